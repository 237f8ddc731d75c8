"""Level-crossing records of the scalar engine and the schedule of snapshot steps.

A run of :func:`dmfverify.scalar_engine.simulate_scalar` does not store every
iterate.  For each distinct eigenvalue it keeps a *level-crossing record*: for
ascending exact levels ``u_1 < u_2 < ...`` and each step ``k``, the index
``j = #{levels <= p(k)}`` of ``p(k) = x(k)^N``, stored only when it changes.
Certified runs keep two indices, the levels certainly reached (``p_lo >= u``)
and the levels possibly reached (``p_hi >= u``), so hitting times and statements
"``p(k) >= u`` for every ``k`` in ``[a, b)``" are read off exactly.  This module
contains those records (:class:`EigenvalueRecord`, :class:`ScalarRun`), the values
kept at chosen steps (:class:`SnapshotTable`) and the default geometric schedule
of those steps (:func:`geometric_steps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np

from dmfverify.errors import InvalidArgument
from dmfverify.regime import Regime
from dmfverify.rounding import float_down, float_up, to_fraction_exact

__all__ = ["SnapshotTable", "EigenvalueRecord", "ScalarRun", "geometric_steps"]


class SnapshotTable(Mapping):
    """Recorded values of ``p`` at snapshot steps: a read-only mapping step -> ``(p_lo, p_hi)`` as Fractions.

    Values are stored as they come out of the engine (float64 arrays, or gmpy2 and
    mpmath numbers) and converted to exact Fractions only when read, so a run can
    keep tens of thousands of snapshots per eigenvalue cheaply.  :meth:`arrays`
    returns float64 bounds rounded outwards, for vectorised scans.
    """

    def __init__(self, steps: Sequence[int], low: Sequence, high: Sequence, overrides: Mapping[int, tuple[Fraction, Fraction]] | None = None):
        self._steps = np.asarray(steps, dtype=np.int64)
        self._low = low
        self._high = high
        self._overrides = dict(overrides or {})

    def _position(self, step: int) -> int:
        position = int(np.searchsorted(self._steps, step))
        if position >= len(self._steps) or self._steps[position] != step:
            raise KeyError(step)
        return position

    def __getitem__(self, step: int) -> tuple[Fraction, Fraction]:
        if step in self._overrides:
            return self._overrides[step]
        position = self._position(int(step))
        return to_fraction_exact(self._low[position]), to_fraction_exact(self._high[position])

    def __contains__(self, step: object) -> bool:
        if step in self._overrides:
            return True
        try:
            self._position(int(step))
        except (KeyError, TypeError, ValueError):
            return False
        return True

    def __iter__(self):
        return iter(sorted(set(self._steps.tolist()) | set(self._overrides)))

    def __len__(self) -> int:
        return len(set(self._steps.tolist()) | set(self._overrides))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(steps, low, high)`` with ``low``/``high`` float64 bounds rounded outwards."""
        if isinstance(self._low, np.ndarray) and self._low.dtype == np.float64:
            low, high = self._low.copy(), self._high.copy()
        else:
            low = np.array([float_down(to_fraction_exact(value)) for value in self._low])
            high = np.array([float_up(to_fraction_exact(value)) for value in self._high])
        for step, (value_low, value_high) in self._overrides.items():
            position = int(np.searchsorted(self._steps, step))
            if position < len(self._steps) and self._steps[position] == step:
                low[position], high[position] = float_down(value_low), float_up(value_high)
        return self._steps.copy(), low, high


@dataclass(frozen=True)
class EigenvalueRecord:
    """Level-crossing record of one distinct eigenvalue.

    Attributes
    ----------
    mu : tuple of Fraction
        Enclosure ``(mu_lo, mu_hi)`` of the eigenvalue (equal when exact).
    levels : tuple of Fraction
        Ascending exact levels that the record tracks.
    events : tuple of (int, int, int)
        ``(k, j_lo, j_hi)``: from step ``k`` on (until the next event),
        ``j_lo`` levels are certainly reached and ``j_hi`` possibly reached.
        For uncertified arithmetics ``j_lo == j_hi``.
    snapshots : dict
        Step ``k`` -> ``(p_lo, p_hi)`` as exact Fractions of the computed bounds.
    last_step : int
        Last step simulated (the horizon unless the run stopped early).
    stationary : bool
        The iterate stopped changing exactly, so every step after ``last_step``
        equals it and the last event stays valid.
    complete : bool
        False when the event buffer overflowed: events after ``last_step`` were
        not recorded and nothing past it may be read.
    regime : Regime
    """

    mu: tuple[Fraction, Fraction]
    levels: tuple[Fraction, ...]
    events: tuple[tuple[int, int, int], ...]
    snapshots: SnapshotTable
    last_step: int
    stationary: bool
    complete: bool
    regime: Regime

    def level_index(self, level: Fraction) -> int:
        """Return the position of ``level`` in :attr:`levels` (it must be tracked)."""
        try:
            return self.levels.index(Fraction(level))
        except ValueError:
            raise InvalidArgument(
                f"level {float(level):.6g} was not tracked by this run; pass it in levels= when simulating."
            ) from None

    def hitting_time(self, level: Fraction) -> tuple[int | None, int | None]:
        """Return ``(earliest, latest)`` possible first steps with ``p(k) >= level``.

        ``earliest`` is the first step whose upper bound reaches the level and
        ``latest`` the first whose lower bound does; the true hitting time lies
        in ``[earliest, latest]``.  ``None`` means not within the run.
        """
        index = self.level_index(level)
        earliest = latest = None
        for step, j_lo, j_hi in self.events:
            if earliest is None and j_hi > index:
                earliest = step
            if latest is None and j_lo > index:
                latest = step
                break
        return earliest, latest

    def always_above(self, level: Fraction, start: int, stop: int | None) -> bool | None:
        """Decide whether ``p(k) >= level`` for every ``k`` in ``[start, stop)``.

        Returns True or False when the record decides it and None when rounding
        or the end of the run leaves it open.  ``stop=None`` means forever.
        """
        return self._window(level, start, stop, above=True)

    def always_below(self, level: Fraction, start: int, stop: int | None) -> bool | None:
        """Decide whether ``p(k) < level`` for every ``k`` in ``[start, stop)`` (see :meth:`always_above`)."""
        return self._window(level, start, stop, above=False)

    def _window(self, level: Fraction, start: int, stop: int | None, above: bool) -> bool | None:
        index = self.level_index(level)
        start = max(int(start), 0)
        if stop is not None and stop <= start:
            return True

        undecided = False
        for position, (step, j_lo, j_hi) in enumerate(self.events):
            end = self.events[position + 1][0] if position + 1 < len(self.events) else None
            if end is None:
                end = math.inf if (self.stationary and self.complete) else self.last_step + 1
            if end <= start or (stop is not None and step >= stop):
                continue
            certainly_above = j_lo > index
            certainly_below = j_hi <= index
            if above:
                if certainly_below:
                    return False
                undecided = undecided or not certainly_above
            else:
                if certainly_above:
                    return False
                undecided = undecided or not certainly_below

        covered = math.inf if (self.stationary and self.complete) else self.last_step + 1
        if stop is None or stop > covered:
            undecided = True
        return None if undecided else True


@dataclass(frozen=True)
class ScalarRun:
    """Result of :func:`simulate_scalar`: one record per distinct eigenvalue of the target.

    Eigenvalues are indexed ``0 .. n-1`` in descending order of ``mu``.
    """

    instance_id: str
    depth: int
    horizon: int
    arithmetic: str
    precision: int
    precision_unit: str
    records: tuple[EigenvalueRecord, ...]
    row_of: tuple[int, ...]
    eigenvalues: tuple[Fraction, ...]
    eigenvalue_radius: Fraction
    warnings: tuple[str, ...] = field(default=())

    @property
    def certified(self) -> bool:
        """True when every number in this run is a rigorous enclosure."""
        return self.arithmetic == "certified"

    def record(self, i: int) -> EigenvalueRecord:
        """Return the record of the ``i``-th largest eigenvalue."""
        if not 0 <= i < len(self.row_of):
            raise InvalidArgument(f"eigenvalue index {i} is out of range for a target of size {len(self.row_of)}.")
        if self.row_of[i] < 0:
            raise InvalidArgument(f"eigenvalue index {i} was not simulated in this run; include it in indices=.")
        return self.records[self.row_of[i]]

    def hitting_time(self, i: int, level: Fraction) -> tuple[int | None, int | None]:
        """Return the certified range of the first step with ``p_i(k) >= level`` (see :meth:`EigenvalueRecord.hitting_time`)."""
        return self.record(i).hitting_time(level)

    def value(self, i: int, step: int) -> tuple[Fraction, Fraction]:
        """Return bounds ``(p_lo, p_hi)`` of ``p_i(step)``; the step must have been a snapshot step."""
        record = self.record(i)
        if step in record.snapshots:
            return record.snapshots[step]
        if record.stationary and step > record.last_step and len(record.snapshots):
            return record.snapshots[max(record.snapshots)]
        raise InvalidArgument(f"step {step} was not recorded; pass it in snapshot_steps= when simulating.")

    def trajectory(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(steps, p_lo, p_hi)`` at the snapshot steps as float64 arrays, rounded outwards."""
        return self.record(i).snapshots.arrays()


def geometric_steps(horizon: int, count: int = 200) -> list[int]:
    """Return about ``count`` steps in ``[0, horizon]``, every step first, then spaced geometrically.

    >>> geometric_steps(10, 5)
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    >>> geometric_steps(10**6, 20)[-3:]
    [79084, 281218, 1000000]
    """
    if horizon <= 2 * count:
        return list(range(horizon + 1))
    dense = list(range(count // 2 + 1))
    sparse = np.unique(np.round(np.geomspace(count // 2 + 1, horizon, count - count // 2)).astype(np.int64)).tolist()
    return sorted(set(dense + [int(k) for k in sparse] + [horizon]))


def _table(values: Mapping[int, Any]) -> SnapshotTable:
    """Build a snapshot table from step -> value, for runs whose lower and upper values coincide."""
    steps = sorted(values)
    column = [values[k] for k in steps]
    return SnapshotTable(steps, column, column)


def _count_reached(levels: Sequence, value) -> int:
    """Return the number of levels ``<= value`` (levels ascending)."""
    count = 0
    for level in levels:
        if level <= value:
            count += 1
        else:
            break
    return count
