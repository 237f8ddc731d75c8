"""Reports of a hunt: progress snapshots, the final result and a one-line progress display.

:class:`HuntProgress` is the snapshot a running hunt passes to its progress
callback about once a second, :class:`HuntResult` the counts, files and
throughput it returns (mergeable across worker processes), and
:class:`ProgressLine` a callback that shows the snapshots on a terminal or a log.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["HuntProgress", "HuntResult", "ProgressLine", "PROGRESS_INTERVAL", "LOG_INTERVAL"]

#: Seconds between two progress reports (callback) and two progress log lines.
PROGRESS_INTERVAL = 1.0
LOG_INTERVAL = 30.0


@dataclass
class HuntProgress:
    """Snapshot of a running hunt, passed to the progress callback.

    ``counts`` has one verdict per judged instance: the most severe over the
    theorem's claims (``VACUOUS`` only when every claim is vacuous).
    """

    theorem: str
    judged: int
    elapsed: float
    best_score: float | None
    counts: dict[str, int]
    counterexamples: int
    worker: int = 0

    @property
    def rate(self) -> float:
        """Instances judged per second."""
        return self.judged / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def vacuous_fraction(self) -> float:
        """Fraction of judged instances on which every claim was ``VACUOUS``."""
        return self.counts.get("VACUOUS", 0) / self.judged if self.judged else 0.0

    def line(self) -> str:
        """Return the one-line progress display."""
        best = "n/a" if self.best_score is None else f"{self.best_score:+.3g}"
        verdicts = " ".join(f"{name}={self.counts.get(name, 0)}" for name in ("HOLDS", "VIOLATED", "INCONCLUSIVE", "VACUOUS", "ERROR"))
        return (f"hunt {self.theorem}: {self.judged} judged, {self.rate:.2f}/s, best score {best}, {verdicts}, "
                f"vacuous {100 * self.vacuous_fraction:.0f}%, counterexamples {self.counterexamples}")


@dataclass
class HuntResult:
    """Outcome of a hunt.

    Attributes
    ----------
    theorem : str
    judged : int
        Instances judged, shrinking included.
    counts : dict
        Instances per verdict (the most severe over the claims).
    claim_counts : dict
        ``"claim: VERDICT"`` -> number of instances.
    counterexamples : list of str
        Files written to the corpus (certified violations).
    unconfirmed : int
        Violations that the high-precision re-check did not confirm.
    errors : list of str
        Files of instances whose check ended in ``ERROR``.
    suspect : list of str
        Files of instances reported ``VIOLATED`` with a margin of exactly 0.
    best_score : float or None
        Largest violation score seen (positive means violated).
    best_instance : dict or None
        The instance (JSON form) and claim of ``best_score``.
    closest : dict or None
        The ``HOLDS`` verdict with the smallest margin, in the claim's own
        units (steps for hitting times), with its instance: the closest
        approach to a violation.
    elapsed : float
        Wall-clock seconds.
    interrupted : bool
        True when Ctrl-C or SIGTERM ended the hunt.
    seed, budget, time_limit, workers : settings of the hunt.
    """

    theorem: str
    judged: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    claim_counts: dict[str, int] = field(default_factory=dict)
    counterexamples: list[str] = field(default_factory=list)
    unconfirmed: int = 0
    errors: list[str] = field(default_factory=list)
    suspect: list[str] = field(default_factory=list)
    best_score: float | None = None
    best_instance: dict[str, Any] | None = None
    closest: dict[str, Any] | None = None
    elapsed: float = 0.0
    interrupted: bool = False
    seed: int = 0
    budget: int | None = None
    time_limit: float | None = None
    workers: int = 1

    @property
    def vacuous_fraction(self) -> float:
        """Fraction of judged instances on which every claim was ``VACUOUS``."""
        return self.counts.get("VACUOUS", 0) / self.judged if self.judged else 0.0

    @property
    def throughput(self) -> float:
        """Instances judged per second of wall-clock time."""
        return self.judged / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        """Return the closing summary as a few lines of text."""
        verdicts = ", ".join(f"{count} {name}" for name, count in sorted(self.counts.items())) or "none"
        lines = [
            f"hunt {self.theorem}: {self.judged} instances judged in {self.elapsed:.1f} s ({self.throughput:.2f}/s, {self.workers} worker(s))"
            + (" [interrupted]" if self.interrupted else ""),
            f"verdicts per instance: {verdicts}; vacuous fraction {self.vacuous_fraction:.1%}",
            f"counterexamples written: {len(self.counterexamples)}" + (f" (+{self.unconfirmed} not confirmed at high precision)" if self.unconfirmed else ""),
        ]
        lines += [f"  {path}" for path in self.counterexamples]
        if self.errors:
            lines.append(f"instances with ERROR kept: {len(self.errors)}")
            lines += [f"  {path}" for path in self.errors]
        if self.suspect:
            lines.append(f"instances reported VIOLATED with margin 0 (equality cases) kept: {len(self.suspect)}")
            lines += [f"  {path}" for path in self.suspect]
        if self.best_score is not None:
            lines.append(f"best violation score: {self.best_score:+.4g} (positive means violated)")
        if self.closest is not None:
            lines.append(f"smallest margin among HOLDS: {self.closest['margin']:.4g} (claim {self.closest['claim']!r}, "
                         f"observed {self.closest['observed']}, bound {self.closest['bound']})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict, with the derived vacuous fraction and throughput."""
        data = asdict(self)
        data["vacuous_fraction"] = self.vacuous_fraction
        data["throughput"] = self.throughput
        return data

    def merge(self, other: "HuntResult") -> None:
        """Add another worker's result into this one (counts, files, best score)."""
        self.judged += other.judged
        for mine, theirs in ((self.counts, other.counts), (self.claim_counts, other.claim_counts)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.counterexamples += [path for path in other.counterexamples if path not in self.counterexamples]
        self.errors += [path for path in other.errors if path not in self.errors]
        self.suspect += [path for path in other.suspect if path not in self.suspect]
        self.unconfirmed += other.unconfirmed
        if other.best_score is not None and (self.best_score is None or other.best_score > self.best_score):
            self.best_score, self.best_instance = other.best_score, other.best_instance
        if other.closest is not None and (self.closest is None or other.closest["margin"] < self.closest["margin"]):
            self.closest = other.closest
        self.interrupted = self.interrupted or other.interrupted


class ProgressLine:
    """A one-line progress display: rewritten in place on a terminal, one line per ``interval`` seconds otherwise."""

    def __init__(self, stream, interval: float = 30.0):
        self.stream = stream
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval
        self._last = 0.0
        self._width = 0

    def update(self, progress: HuntProgress) -> None:
        """Show a snapshot (rate-limited when the stream is not a terminal)."""
        text = progress.line()
        if self.interactive:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
        elif time.monotonic() - self._last >= self.interval:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last = time.monotonic()

    def close(self) -> None:
        """End the line on a terminal."""
        if self.interactive and self._width:
            self.stream.write("\n")
            self.stream.flush()
