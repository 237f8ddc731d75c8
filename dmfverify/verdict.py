"""Verdicts: the result of judging one claim of one theorem on one instance.

A verdict never claims more than the numbers show:

``HOLDS``
    The inequality holds with a margin larger than the numerical error: the
    dynamics are certified enclosures and the bound's evaluation error is
    estimated by evaluating it at two precisions.
``VIOLATED``
    The inequality fails by more than that error.
``INCONCLUSIVE``
    The margin is within the error even at the precision cap, or no certified
    enclosure exists for the instance (the reason says which).
``VACUOUS``
    A hypothesis is false on the instance, so nothing is claimed.
``ERROR``
    The instance is invalid or the run failed; the reason says why.

"No counterexample found" is never "proved": ``HOLDS`` speaks of one instance.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Outcome", "Verdict", "worst", "SEVERITY"]


class Outcome(str, enum.Enum):
    """The five possible verdicts."""

    HOLDS = "HOLDS"
    VIOLATED = "VIOLATED"
    INCONCLUSIVE = "INCONCLUSIVE"
    VACUOUS = "VACUOUS"
    ERROR = "ERROR"

    def __str__(self) -> str:
        return self.value


#: Order used to summarise several checks of one claim: the most severe wins.
SEVERITY = {Outcome.VACUOUS: 0, Outcome.HOLDS: 1, Outcome.INCONCLUSIVE: 2, Outcome.VIOLATED: 3, Outcome.ERROR: 4}


@dataclass
class Verdict:
    """Judgement of one claim on one instance, with the numbers behind it.

    Attributes
    ----------
    theorem, claim, instance : str
        Identifiers.
    verdict : Outcome
    observed, bound : float or str or None
        The observed quantity and the bound it was compared with (for a
        claim checked at many indices or levels, those of the tightest check).
    margin : float or None
        ``bound - observed`` for ``<=`` claims, ``observed - bound`` for ``>=``:
        positive when the inequality holds.
    tightness : float or None
        ``observed / bound`` or its inverse, whichever is at most 1; 1 means the
        bound is attained.
    arithmetic : str
        Arithmetic of the run that decided the verdict.
    precision : str
        Its precision, with the unit (``"53 bits"``, ``"50 digits"``).
    reason : str
        One line saying why.
    checks : list of dict
        Every expanded check (index ``i``, level ``u``, observed, bound, verdict).
    """

    theorem: str
    claim: str
    instance: str
    verdict: Outcome
    observed: Any = None
    bound: Any = None
    margin: float | None = None
    tightness: float | None = None
    arithmetic: str = ""
    precision: str = ""
    reason: str = ""
    status: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, *, with_checks: bool = False) -> dict[str, Any]:
        """Return a JSON-ready dict with the keys of the command-line output."""
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        for key in ("margin", "tightness"):
            if isinstance(data[key], float) and not math.isfinite(data[key]):
                data[key] = None
        if not with_checks:
            data.pop("checks")
        return data

    def __str__(self) -> str:
        margin = "" if self.margin is None else f" margin {self.margin:.4g}"
        return f"{self.theorem}/{self.claim} on {self.instance}: {self.verdict}{margin} ({self.reason})"


def worst(outcomes) -> Outcome:
    """Return the most severe outcome (``VACUOUS`` only when every one is vacuous).

    >>> worst([Outcome.HOLDS, Outcome.VACUOUS, Outcome.INCONCLUSIVE])
    <Outcome.INCONCLUSIVE: 'INCONCLUSIVE'>
    """
    outcomes = list(outcomes)
    if not outcomes:
        return Outcome.VACUOUS
    return max(outcomes, key=SEVERITY.__getitem__)
