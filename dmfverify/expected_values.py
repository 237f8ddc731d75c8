"""Comparison of an instance file's ``expected`` block with a fresh certified run.

Instance files may carry reference values, computed independently of this
package, under ``expected``.  :func:`compare_expected` recomputes the keys that
the toolkit also computes and returns one :class:`ExpectedComparison` per key of
the block, in file order:

``hitting_times``, ``learn_times``, ``learn_times_to_(1-eps)(lambda_i-sigma)``, ``leak_times``, ``observed_T0``, ``observed_T1``
    Step counts from :func:`dmfverify.simulation.observe` (what ``dmfverify
    simulate`` prints) with the scalar engine in certified arithmetic.  They
    must be equal, and ``null`` means "never reached".
``perturbed_eigenvalues``, ``sigma``
    The eigenvalues ``mu_1 >= ... >= mu_n`` of the target ``M + E`` and the
    spectral norm ``||E||_2`` of the noise, as rigorous enclosures
    (:mod:`dmfverify.spectrum`).
``product_at_step``
    The product ``p(k)`` of a 1 x 1 target at the listed steps ``k``, as the
    certified enclosures of :func:`dmfverify.scalar_engine.simulate_scalar`.

A real value matches when it lies inside its certified enclosure widened by
:data:`RELATIVE_TOLERANCE` times its absolute value, so "differs" is never
caused by rounding in the run.  Every other key is reported as "not compared".

A certified run encloses each hitting time ``min{k : p(k) >= u}`` in a range
``[earliest, latest]`` of steps.  A range wider than one step contains the
truth and is reported as ``undecided`` when it also contains the expected
value.  That happens at an exact tie ``p(k) = u`` with ``k >= 1``, and when
the precision of the run does not separate ``p(k)`` from ``u``.  Step 0 is
decided exactly because ``p(0) = alpha^N`` is rational: when a level equals
``alpha^N``, the hitting time is 0, while a reference computed in binary
floating point or with the strict comparison ``p(k) > u`` gives 1.  That
difference is reported as ``tie``, not as a mismatch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping, Sequence

import mpmath

from dmfverify.errors import CertificationError, DmfverifyError
from dmfverify.instance import Instance
from dmfverify.scalar_engine import simulate_scalar
from dmfverify.simulation import DEFAULT_BUDGET, estimate_horizon, observe, tracked_levels
from dmfverify.spectrum import noise_norm, target_spectrum
from dmfverify.validation import to_fraction

__all__ = ["ExpectedComparison", "compare_expected", "comparison_rule", "RELATIVE_TOLERANCE", "CERTIFIED_BITS",
           "MATCHING", "DIFFERS", "TIE", "UNDECIDED", "NOT_COMPARED", "ERROR"]

logger = logging.getLogger(__name__)

#: Relative tolerance of real values.  The reference eigenvalues of perturbed instances were computed
#: from the unrounded noise, while the files store each noise entry to 17 significant digits, so the
#: two agree only to about 1e-16.  1e-12 leaves room for that and still shows any larger drift.
RELATIVE_TOLERANCE = Fraction(1, 10**12)

#: Binary precision of the certified runs (53 uses the compiled outward-rounded float64 kernel).
CERTIFIED_BITS = 53

#: Decimal digits of the eigenvalue enclosures.
SPECTRUM_DPS = 50

MATCHING = "matching"
DIFFERS = "differs"
TIE = "tie"
UNDECIDED = "undecided"
NOT_COMPARED = "not compared"
ERROR = "error"

_LEARN_KEYS = ("learn_times", "learn_times_to_(1-eps)(lambda_i-sigma)")
_STEP_LIST_KEYS = ("hitting_times", *_LEARN_KEYS, "leak_times")
_STEP_KEYS = (*_STEP_LIST_KEYS, "observed_T0", "observed_T1")

#: Severity order used to summarise the entries of one key: the most severe wins.
_SEVERITY = {MATCHING: 0, TIE: 1, UNDECIDED: 2, DIFFERS: 3}


@dataclass(frozen=True)
class ExpectedComparison:
    """One key of an instance file's ``expected`` block compared with a fresh run.

    ``status`` is one of ``"matching"``, ``"differs"``, ``"tie"``,
    ``"undecided"``, ``"not compared"`` and ``"error"`` (the run failed).
    ``observed`` is the fresh value in the shape of ``expected``.  A step that
    the run does not decide appears as its range ``[earliest, latest]``, and a
    real value as the midpoint of its enclosure.  ``detail`` lists the entries
    that do not match, or gives the reason for ``"not compared"`` and ``"error"``.
    """

    path: Path | None
    key: str
    status: str
    expected: Any
    observed: Any = None
    detail: str = ""
    bits: int = CERTIFIED_BITS

    @property
    def differs(self) -> bool:
        """True when the expected value certainly differs from the fresh one."""
        return self.status == DIFFERS

    def describe(self) -> str:
        """Return the status with its details, e.g. ``"differs ([1] expected 178, observed 177)"``."""
        return f"{self.status} ({self.detail})" if self.detail else self.status

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"path": None if self.path is None else str(self.path), "key": self.key, "status": self.status,
                "expected": self.expected, "observed": self.observed, "detail": self.detail, "arithmetic": f"certified, {self.bits} bits"}


def comparison_rule(bits: int = CERTIFIED_BITS, relative_tolerance: Fraction = RELATIVE_TOLERANCE) -> str:
    """Return the sentences that state how expected values are compared.

    >>> print(comparison_rule())
    Expected values are compared with a fresh certified run at 53 bits. Step counts must be equal, and a real value matches when it lies within a relative 1e-12 of its certified enclosure.
    """
    return (f"Expected values are compared with a fresh certified run at {bits} bits. Step counts must be equal, and a real "
            f"value matches when it lies within a relative {float(relative_tolerance):g} of its certified enclosure.")


def compare_expected(instance: Instance, *, path: str | Path | None = None, bits: int = CERTIFIED_BITS,
                     relative_tolerance: Fraction = RELATIVE_TOLERANCE) -> list[ExpectedComparison]:
    """Compare the ``expected`` block of an instance with a fresh certified run.

    Parameters
    ----------
    instance : Instance
        An instance read from a file; nothing is compared when it has no
        ``expected`` block.
    path : str or Path, optional
        The file, recorded in each comparison.
    bits : int
        Binary precision of the certified runs.
    relative_tolerance : Fraction
        A real value ``v`` matches when ``lo - t |v| <= v <= hi + t |v|`` for its
        certified enclosure ``[lo, hi]`` and this ``t``.

    Returns
    -------
    list of ExpectedComparison
        One per key of the block, in file order.

    Examples
    --------
    >>> inst = Instance.create(spectrum=["1"], depth=2, alpha="0.1", eta="0.1", thresholds=["0.01", "0.5"],
    ...                        expected={"hitting_times": [1, 24], "step_size_number_S": "0.2"})
    >>> for item in compare_expected(inst):
    ...     print(item.key, "|", item.describe())
    hitting_times | tie ([0] expected 1, observed 0: p(0) = alpha^N equals the level 0.01 exactly, and 1 is the first step with p > 0.01)
    step_size_number_S | not compared (replay computes no fresh value for this key)
    """
    expected = instance.expected
    if not expected:
        return []
    path = None if path is None else Path(path)
    if not isinstance(expected, Mapping):
        return [ExpectedComparison(path, "expected", NOT_COMPARED, expected, detail="the expected block is not a JSON object", bits=bits)]

    results: dict[str, tuple[str, Any, str]] = {}
    step_keys = [key for key in expected if key in _STEP_KEYS]
    if step_keys:
        results.update(_compare_steps(instance, expected, step_keys, bits))
    for key in ("perturbed_eigenvalues", "sigma"):
        if key in expected:
            results[key] = _guarded(lambda key=key: _compare_spectral(instance, key, expected[key], relative_tolerance))
    if "product_at_step" in expected:
        results["product_at_step"] = _guarded(lambda: _compare_products(instance, expected["product_at_step"], bits, relative_tolerance))

    comparisons = []
    for key, value in expected.items():
        status, observed, detail = results.get(key, (NOT_COMPARED, None, "replay computes no fresh value for this key"))
        if status == ERROR:
            logger.warning("expected value %s of %s was not compared because the run failed: %s", key, path or instance.id, detail)
        comparisons.append(ExpectedComparison(path, key, status, value, observed, detail, bits))
    return comparisons


def _guarded(compare) -> tuple[str, Any, str]:
    """Run one comparison and turn a failed computation into a ``"not compared"`` or ``"error"`` result."""
    try:
        return compare()
    except CertificationError as error:
        return NOT_COMPARED, None, str(error)
    except DmfverifyError as error:
        return ERROR, None, str(error)


# ------------------------------------------------------------------ step counts


def _as_range(value: Any) -> tuple[int | None, int | None]:
    """Convert an :func:`observe` step value (an int, ``[earliest, latest]`` or None) into a range."""
    if value is None:
        return None, None
    if isinstance(value, list):
        return value[0], value[1]
    return value, value


def _is_step(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _compare_steps(instance: Instance, expected: Mapping[str, Any], keys: Sequence[str], bits: int) -> dict[str, tuple[str, Any, str]]:
    """Compare the step-count keys with one certified :func:`observe` run."""
    results: dict[str, tuple[str, Any, str]] = {}
    comparable = []
    for key in keys:
        value = expected[key]
        entries = value if key in _STEP_LIST_KEYS and isinstance(value, list) else [value]
        if key in _STEP_LIST_KEYS and not isinstance(value, list):
            results[key] = (NOT_COMPARED, None, f"expected {value!r} is not a list of step counts")
        elif not all(_is_step(entry) for entry in entries):
            results[key] = (NOT_COMPARED, None, f"expected {value!r} is not a step count or a list of them (non-negative integers or null)")
        else:
            comparable.append(key)
    if not comparable:
        return results

    if instance.initialisation.kind != "aligned" or not instance.noise_is_symmetric:
        reason = "the scalar engine needs the aligned initialisation alpha I and symmetric noise, and has no certified matrix counterpart"
        return results | {key: (NOT_COMPARED, None, reason) for key in comparable}

    # Run at least one step past the largest expected step, so that "not reached" is decided for it.
    levels = tracked_levels(instance)
    steps = []
    for key in comparable:
        steps += expected[key] if isinstance(expected[key], list) else [expected[key]]
    largest = max((step for step in steps if step is not None), default=0)
    try:
        horizon = max(estimate_horizon(instance, levels), min(largest + 1, DEFAULT_BUDGET))
        run = observe(instance, engine="scalar", arithmetic="certified", bits=bits, horizon=horizon)
    except CertificationError as error:
        return results | {key: (NOT_COMPARED, None, str(error)) for key in comparable}
    except DmfverifyError as error:
        return results | {key: (ERROR, None, f"the certified run failed: {error}") for key in comparable}

    strict = _StrictSteps(instance, levels, run)
    for key in comparable:
        if key not in run:
            reason = (f"the certified run did not reach every learn level within {horizon} steps" if key == "observed_T0" and instance.eps is not None
                      else f"the run computes no {key} for this instance")
            results[key] = (NOT_COMPARED, None, reason)
            continue
        if key in _STEP_LIST_KEYS:
            results[key] = _compare_step_list(key, expected[key], run[key], strict, horizon)
        else:
            results[key] = _compare_one_step(expected[key], run[key], strict.derived(key), horizon)
    return results


class _StrictSteps:
    """The first steps with ``p > u`` where ``p(0) = alpha^N`` equals a level ``u`` exactly (see the module docstring)."""

    def __init__(self, instance: Instance, levels: Mapping[int, list[Fraction]], run: Mapping[str, Any]):
        self.instance, self.run = instance, run
        self.start = instance.alpha**instance.depth
        learn = range(instance.rank or 0) if instance.eps is not None else range(0)
        leak = range(instance.rank or 0, instance.n) if instance.delta is not None else range(0)
        # The same (eigenvalue index, level) pairs that observe tracks for each list.
        self.levels = {"hitting_times": [(0, Fraction(level)) for level in instance.thresholds],
                       "learn": [(index, levels[index][-1]) for index in learn],
                       "leak_times": [(index, levels[index][-1]) for index in leak]}

    def entry(self, key: str, position: int) -> int | None:
        """Return the first step with ``p > u`` for entry ``position`` of ``key`` when its observed step is an exact tie at 0."""
        pairs = self.levels["learn" if key in _LEARN_KEYS else key]
        if position >= len(pairs) or _as_range(self.run[key][position]) != (0, 0):
            return None
        index, level = pairs[position]
        if level != self.start:
            return None

        # p(1) = (alpha + eta alpha^(N-1) (mu - alpha^N))^N exceeds p(0) = alpha^N exactly when mu > alpha^N.
        mu_low, _ = target_spectrum(self.instance, dps=SPECTRUM_DPS).interval(index)
        return 1 if mu_low > level else None

    def derived(self, key: str) -> int | None:
        """Return ``observed_T0`` or ``observed_T1`` with every tied entry replaced by its strict step, or None without ties."""
        source = next((name for name in _LEARN_KEYS if name in self.run), None) if key == "observed_T0" else "leak_times"
        if source is None or source not in self.run:
            return None
        steps, tied = [], False
        for position, value in enumerate(self.run[source]):
            earliest, latest = _as_range(value)
            alternative = self.entry(source, position)
            tied = tied or alternative is not None
            if earliest != latest:
                return None
            steps.append(alternative if alternative is not None else earliest)
        if not tied:
            return None
        if key == "observed_T0":
            return None if None in steps else max(steps)
        reached = [step for step in steps if step is not None]
        return min(reached) if reached else None


def _judge_step(expected: int | None, observed: tuple[int | None, int | None], horizon: int, strict: int | None) -> str:
    """Judge one step count against the certified range ``[earliest, latest]`` (None: not reached within the horizon)."""
    earliest, latest = observed
    if expected is None:
        # NOTE: "not reached within the horizon" stands for "never reached".  The horizon is estimate_horizon's
        # estimate (with a 50% margin) of the steps every reachable tracked level needs, not a proof.
        if earliest is None:
            return MATCHING
        return UNDECIDED if latest is None else DIFFERS
    if earliest is None:
        return DIFFERS if expected <= horizon else UNDECIDED
    if earliest == latest == expected:
        return MATCHING
    if earliest <= expected and (latest is None or expected <= latest):
        return UNDECIDED
    if strict is not None and strict == expected:
        return TIE
    return DIFFERS


def _show_step(value: Any, horizon: int) -> str:
    earliest, latest = _as_range(value)
    if earliest is None:
        return f"not reached within {horizon} steps"
    if earliest == latest:
        return str(earliest)
    return f"certified range [{earliest}, {'beyond the horizon' if latest is None else latest}]"


def _step_note(status: str, expected: Any, observed: Any, horizon: int, label: str, level: Fraction | None = None) -> str:
    text = f"{label}expected {'null (never reached)' if expected is None else expected}, observed {_show_step(observed, horizon)}"
    if status == TIE and level is not None:
        text += f": p(0) = alpha^N equals the level {_decimal(level)} exactly, and {expected} is the first step with p > {_decimal(level)}"
    elif status == TIE:
        text += ": an entry it is computed from is an exact tie at step 0"
    return text


def _compare_step_list(key: str, expected: list, observed: list, strict: _StrictSteps, horizon: int) -> tuple[str, Any, str]:
    if len(expected) != len(observed):
        return DIFFERS, observed, f"expected {len(expected)} entries {expected}, observed {len(observed)} entries {observed}"
    worst, notes = MATCHING, []
    for position, (value, fresh) in enumerate(zip(expected, observed)):
        alternative = strict.entry(key, position)
        status = _judge_step(value, _as_range(fresh), horizon, alternative)
        if status != MATCHING:
            level = None
            if status == TIE:
                level = strict.levels["learn" if key in _LEARN_KEYS else key][position][1]
            notes.append(_step_note(status, value, fresh, horizon, f"[{position}] ", level))
        worst = max(worst, status, key=_SEVERITY.__getitem__)
    return worst, observed, "; ".join(notes)


def _compare_one_step(expected: int | None, observed: Any, strict: int | None, horizon: int) -> tuple[str, Any, str]:
    status = _judge_step(expected, _as_range(observed), horizon, strict)
    return status, observed, "" if status == MATCHING else _step_note(status, expected, observed, horizon, "")


# ------------------------------------------------------------------ real values


def _decimal(value: Fraction, digits: int = 17) -> str:
    """Return ``value`` as a decimal string with ``digits`` significant digits."""
    with mpmath.workdps(digits + 10):
        return mpmath.nstr(mpmath.mpf(value.numerator) / value.denominator, digits)


def _judge_real(text: Any, enclosure: tuple[Fraction, Fraction], relative_tolerance: Fraction, label: str) -> tuple[str, str]:
    """Judge one real value against a certified enclosure widened by the relative tolerance; return the status and a note."""
    low, high = enclosure
    observed = _decimal((low + high) / 2)
    try:
        value = to_fraction("expected value", text)
    except DmfverifyError:
        return DIFFERS, f"{label}expected {text!r} (not a number), observed {observed}"
    slack = relative_tolerance * abs(value)
    if low - slack <= value <= high + slack:
        return MATCHING, ""
    return DIFFERS, f"{label}expected {text}, observed {observed} (certified enclosure [{_decimal(low)}, {_decimal(high)}])"


def _compare_reals(expected: Sequence[Any], enclosures: Sequence[tuple[Fraction, Fraction]], labels: Sequence[str],
                   relative_tolerance: Fraction) -> tuple[str, list[str], str]:
    observed = [_decimal((low + high) / 2) for low, high in enclosures]
    worst, notes = MATCHING, []
    for text, enclosure, label in zip(expected, enclosures, labels):
        status, note = _judge_real(text, enclosure, relative_tolerance, label)
        if note:
            notes.append(note)
        worst = max(worst, status, key=_SEVERITY.__getitem__)
    return worst, observed, "; ".join(notes)


def _compare_spectral(instance: Instance, key: str, expected: Any, relative_tolerance: Fraction) -> tuple[str, Any, str]:
    """Compare ``perturbed_eigenvalues`` (a list) or ``sigma`` with their rigorous enclosures."""
    if key == "sigma":
        enclosure = noise_norm(instance, dps=SPECTRUM_DPS)
        status, observed, detail = _compare_reals([expected], [enclosure], [""], relative_tolerance)
        return status, observed[0], detail

    if not isinstance(expected, list):
        return NOT_COMPARED, None, f"expected {expected!r} is not a list of eigenvalues"
    spectrum = target_spectrum(instance, dps=SPECTRUM_DPS)
    enclosures = [spectrum.interval(index) for index in range(instance.n)]
    if len(expected) != len(enclosures):
        observed = [_decimal((low + high) / 2) for low, high in enclosures]
        return DIFFERS, observed, f"expected {len(expected)} eigenvalues, observed {len(enclosures)}"
    return _compare_reals(expected, enclosures, [f"[{index}] " for index in range(len(expected))], relative_tolerance)


def _compare_products(instance: Instance, expected: Any, bits: int, relative_tolerance: Fraction) -> tuple[str, Any, str]:
    """Compare ``product_at_step`` (step -> p(step)) with the certified enclosures of a scalar run."""
    if not isinstance(expected, Mapping):
        return NOT_COMPARED, None, f"expected {expected!r} is not an object mapping steps to values"
    if instance.n != 1:
        return NOT_COMPARED, None, f"product_at_step is compared for 1 x 1 targets only, and this target is {instance.n} x {instance.n}"
    if instance.initialisation.kind != "aligned":
        return NOT_COMPARED, None, "the scalar engine needs the aligned initialisation alpha I"
    try:
        steps = [int(step) for step in expected]
    except ValueError:
        return NOT_COMPARED, None, f"the steps {list(expected)} are not all integers"
    if any(step < 0 for step in steps):
        return NOT_COMPARED, None, f"the steps {list(expected)} must be non-negative"

    run = simulate_scalar(instance, max(steps, default=0), arithmetic="certified", bits=bits, levels=[], snapshot_steps=steps)
    enclosures = [run.value(0, step) for step in steps]
    status, observed, detail = _compare_reals(list(expected.values()), enclosures, [f"step {step}: " for step in steps], relative_tolerance)
    return status, dict(zip(expected, observed)), detail
