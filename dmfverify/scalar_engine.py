"""The scalar engine: exact per-eigenvalue recurrences for the aligned initialisation.

When every factor starts at ``alpha I`` and the target ``Mhat = V diag(mu) V^T``
is symmetric, every factor stays ``V diag(x(k)) V^T`` with, for each eigenvalue
independently,

    x_i(k+1) = x_i(k) + eta x_i(k)^(N-1) (mu_i - x_i(k)^N),    x_i(0) = alpha,

and the product's eigenvalues are ``p_i(k) = x_i(k)^N``.  This engine runs that
recurrence once per distinct eigenvalue, in one of three arithmetics:

``"float64"``
    A compiled loop in binary64.  Fast, not certified.
``"mpmath"``
    A plain loop at ``dps`` decimal digits inside ``mpmath.workdps``.  Accurate,
    not certified.
``"certified"``
    Lower and upper trajectories with outward rounding, valid because the update
    is increasing on the region holding the trajectory (see
    :mod:`dmfverify.regime`).  ``bits=53`` uses the compiled float64 kernel with
    one-ulp outward steps; larger ``bits`` use gmpy2's directed rounding.  The
    eigenvalues themselves enter as rigorous enclosures
    (:mod:`dmfverify.spectrum`).  Outside the monotone regimes it raises
    :class:`~dmfverify.errors.CertificationError` instead of guessing.

Rather than storing every iterate, a run records for each eigenvalue a
*level-crossing record*: for ascending exact levels ``u_1 < u_2 < ...`` and each
step ``k``, the index ``j = #{levels <= p(k)}``, stored only when it changes.
For certified runs there are two indices, levels certainly reached
(``p_lo >= u``) and levels possibly reached (``p_hi >= u``).  Hitting times and
statements "``p(k) >= u`` for every ``k`` in ``[a, b)``" are read off exactly.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Mapping, Sequence

import gmpy2
import mpmath
import numpy as np

from dmfverify.errors import CertificationError, DivergenceError, InvalidArgument
from dmfverify.instance import Instance
from dmfverify.regime import Regime, classify, explain
from dmfverify.rounding import float_down, float_up, mpfr_down, mpfr_up, to_fraction_exact
from dmfverify.spectrum import target_spectrum

__all__ = ["ScalarRun", "EigenvalueRecord", "simulate_scalar", "ARITHMETICS", "geometric_steps"]

logger = logging.getLogger(__name__)

ARITHMETICS = ("float64", "mpmath", "certified")

#: Events kept per eigenvalue by the compiled kernels; more means an oscillating
#: trajectory crossing the same levels again and again.
MAX_EVENTS = 512

#: Iterates larger than this count as divergence.
DIVERGENCE_LIMIT = 1e150


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
        equals it and the last event holds forever.
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


def simulate_scalar(
    instance: Instance,
    horizon: int,
    *,
    arithmetic: str = "float64",
    dps: int = 50,
    bits: int = 53,
    levels: Mapping[int, Iterable] | Iterable | None = None,
    snapshot_steps: Iterable[int] = (),
    snapshot_count: int = 200,
    indices: Iterable[int] | None = None,
) -> ScalarRun:
    """Run the per-eigenvalue recurrence of an aligned instance up to ``horizon`` steps.

    Parameters
    ----------
    instance : Instance
        Must have the aligned initialisation ``alpha I`` and a symmetric target
        (the reduction to scalar recurrences needs both).
    horizon : int
        Last step simulated.
    arithmetic : {"float64", "mpmath", "certified"}
    dps : int
        Decimal digits of the ``"mpmath"`` arithmetic.
    bits : int
        Binary precision of the ``"certified"`` arithmetic; 53 uses the compiled
        float64 kernel, more uses gmpy2.
    levels : mapping from eigenvalue index to levels, or one iterable for all
        Exact levels to track (strings, Fractions or numbers).  Default: the
        instance's ``thresholds``.
    snapshot_steps : iterable of int
        Steps whose values must be kept, besides a geometric schedule of
        ``snapshot_count`` steps.
    indices : iterable of int, optional
        Simulate only these eigenvalue indices (0-based); asking a run for
        another index raises.  Default: all.

    Raises
    ------
    InvalidArgument
        For a non-aligned initialisation, non-symmetric noise or a bad argument.
    CertificationError
        For ``"certified"`` when an eigenvalue is in no monotone regime.
    DivergenceError
        When an iterate overflows or becomes NaN.
    """
    if arithmetic not in ARITHMETICS:
        raise InvalidArgument(f"arithmetic = {arithmetic!r} is unknown; use one of {', '.join(ARITHMETICS)}.")
    if instance.initialisation.kind != "aligned":
        raise InvalidArgument(
            f"instance {instance.id!r} uses the {instance.initialisation.kind!r} initialisation, but the scalar engine "
            "needs the aligned initialisation alpha I; use the matrix engine instead."
        )
    if not instance.noise_is_symmetric:
        raise InvalidArgument(
            f"instance {instance.id!r} has non-symmetric noise, so the factors do not stay aligned with the target; "
            "use the matrix engine, which handles non-symmetric noise."
        )
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 0:
        raise InvalidArgument(f"horizon = {horizon!r} is invalid: it must be an integer >= 0.")
    horizon = int(horizon)

    # Certified runs carry the eigenvalue radius in their enclosures, so 50 digits serve every precision.
    spectrum_dps = max(30, dps) if arithmetic == "mpmath" else min(max(30, int(bits * 0.302) + 5), 50)
    spectrum = target_spectrum(instance, dps=spectrum_dps)
    n = instance.n
    per_index = _levels_per_index(levels, n, instance)
    snapshots = sorted(set(geometric_steps(horizon, snapshot_count)) | {int(k) for k in snapshot_steps if 0 <= k <= horizon})

    wanted = set(range(n)) if indices is None else {int(index) for index in indices}
    rows: list[tuple[Fraction, Fraction]] = []
    row_levels: list[set[Fraction]] = []
    row_of: list[int] = []
    for i in range(n):
        if i not in wanted:
            row_of.append(-1)
            continue
        interval = spectrum.interval(i)
        if interval in rows and spectrum.exact:
            row = rows.index(interval)
        else:
            rows.append(interval)
            row_levels.append(set())
            row = len(rows) - 1
        row_levels[row].update(per_index[i])
        row_of.append(row)

    level_lists = [tuple(sorted(found)) for found in row_levels]
    logger.info("scalar run %s: %d distinct eigenvalues, horizon %d, %s", instance.id, len(rows), horizon, arithmetic)

    compiled = _compiled_kernels()
    if arithmetic == "float64" and compiled is None:
        records = [_run_python_float(mu, lv, instance, horizon, snapshots) for mu, lv in zip(rows, level_lists)]
        precision, unit = 53, "bits"
    elif arithmetic == "certified" and bits <= 53 and compiled is None:
        records = [_run_certified_mpfr(mu, lv, instance, horizon, snapshots, 53) for mu, lv in zip(rows, level_lists)]
        precision, unit = 53, "bits"
    elif arithmetic == "float64":
        records = _run_float64(rows, level_lists, instance, horizon, snapshots)
        precision, unit = 53, "bits"
    elif arithmetic == "mpmath":
        records = [_run_mpmath(mu, lv, instance, horizon, snapshots, dps) for mu, lv in zip(rows, level_lists)]
        precision, unit = dps, "digits"
    elif bits <= 53:
        records = _run_certified_float64(rows, level_lists, instance, horizon, snapshots)
        precision, unit = 53, "bits"
    else:
        records = [_run_certified_mpfr(mu, lv, instance, horizon, snapshots, bits) for mu, lv in zip(rows, level_lists)]
        precision, unit = bits, "bits"

    return ScalarRun(
        instance_id=instance.id,
        depth=instance.depth,
        horizon=horizon,
        arithmetic=arithmetic,
        precision=precision,
        precision_unit=unit,
        records=tuple(records),
        row_of=tuple(row_of),
        eigenvalues=spectrum.values,
        eigenvalue_radius=spectrum.radius,
    )


def _compiled_kernels():
    """Return the compiled kernel module, or None when it is unavailable (the pure-Python paths are used)."""
    try:
        from dmfverify import kernels
    except ImportError:
        return None
    if not (hasattr(kernels, "run_float64") and hasattr(kernels, "run_certified")):
        return None
    return kernels


def _run_python_float(mu, levels, instance: Instance, horizon: int, snapshots: list[int]) -> EigenvalueRecord:
    """Run the recurrence in Python floats (binary64), the reference for the compiled float64 kernel."""
    depth = instance.depth
    mu_value, eta, x = float((mu[0] + mu[1]) / 2), float(instance.eta), float(instance.alpha)
    level_values = [float(level) for level in levels]
    wanted = set(snapshots)
    events, snaps, previous = [], {}, None
    last_step, stationary = horizon, False
    for k in range(horizon + 1):
        p = x**depth
        reached = _count_reached(level_values, p)
        if reached != previous:
            events.append((k, reached, reached))
            previous = reached
        if k in wanted:
            snaps[k] = p
        if k == horizon:
            break
        following = x + eta * x ** (depth - 1) * (mu_value - p)
        if not math.isfinite(following) or abs(following) > DIVERGENCE_LIMIT:
            _raise_if_diverged(1, k + 1, mu, instance)
        if following == x:
            stationary, last_step = True, k
            break
        x = following
    if stationary:
        for k in snapshots:
            if k > last_step:
                snaps[k] = x**depth
    return EigenvalueRecord(mu, tuple(levels), tuple(events), _table(snaps), last_step, stationary, True, Regime.NONE)


def _levels_per_index(levels, n: int, instance: Instance) -> list[set[Fraction]]:
    from dmfverify.validation import to_fraction

    if levels is None:
        common = {Fraction(u) for u in instance.thresholds}
        return [set(common) for _ in range(n)]
    if isinstance(levels, Mapping):
        result = [set() for _ in range(n)]
        for index, values in levels.items():
            if not 0 <= int(index) < n:
                raise InvalidArgument(f"levels name eigenvalue index {index}, out of range for n = {n}.")
            result[int(index)].update(to_fraction("level", value) for value in values)
        return result
    common = {to_fraction("level", value) for value in levels}
    return [set(common) for _ in range(n)]


def _count_reached(levels: Sequence, value) -> int:
    """Return the number of levels ``<= value`` (levels ascending)."""
    count = 0
    for level in levels:
        if level <= value:
            count += 1
        else:
            break
    return count


# --------------------------------------------------------------------- float64


def _float64_inputs(rows, level_lists, instance: Instance):
    m = len(rows)
    width = max((len(lv) for lv in level_lists), default=0) or 1
    levels_lo = np.full((m, width), np.inf)
    levels_hi = np.full((m, width), np.inf)
    for r, lv in enumerate(level_lists):
        for c, level in enumerate(lv):
            levels_lo[r, c] = float_down(level)
            levels_hi[r, c] = float_up(level)
    return m, levels_lo, levels_hi


def _run_float64(rows, level_lists, instance: Instance, horizon: int, snapshots: list[int]) -> list[EigenvalueRecord]:
    from dmfverify import kernels

    m, levels_nearest, _ = _float64_inputs(rows, level_lists, instance)
    for r, lv in enumerate(level_lists):
        for c, level in enumerate(lv):
            levels_nearest[r, c] = float(level)

    mu = np.array([float((lo + hi) / 2) for lo, hi in rows])
    result = kernels.run_float64(
        mu,
        np.full(m, instance.depth, dtype=np.int64),
        np.full(m, float(instance.alpha)),
        np.full(m, float(instance.eta)),
        horizon,
        levels_nearest,
        np.array(snapshots, dtype=np.int64),
        max_events=MAX_EVENTS,
    )

    records = []
    for r in range(m):
        _raise_if_diverged(int(result.status[r]), int(result.last_step[r]), rows[r], instance)
        count = int(result.n_events[r])
        events = tuple(
            (int(result.event_step[r, e]), int(result.event_j[r, e]), int(result.event_j[r, e])) for e in range(count)
        )
        snaps = SnapshotTable(snapshots, result.snaps[r].copy(), result.snaps[r].copy())
        records.append(_make_record(rows[r], level_lists[r], events, snaps, result.status[r], result.last_step[r], horizon, Regime.NONE))
    return records


def _run_certified_float64(rows, level_lists, instance: Instance, horizon: int, snapshots: list[int]) -> list[EigenvalueRecord]:
    from dmfverify import kernels

    depth = instance.depth
    m, levels_lo, levels_hi = _float64_inputs(rows, level_lists, instance)
    regimes = [_regime_or_raise(mu, instance) for mu in rows]

    fp_lo = np.empty(m)
    fp_hi = np.empty(m)
    for r, (mu_lo, mu_hi) in enumerate(rows):
        low, high = _fixed_point_enclosure(mu_lo, mu_hi, depth, 53)
        fp_lo[r], fp_hi[r] = float_down(low), float_up(high)

    alpha_lo, alpha_hi = float_down(instance.alpha), float_up(instance.alpha)
    eta_lo, eta_hi = float_down(instance.eta), float_up(instance.eta)
    result = kernels.run_certified(
        np.array([float_down(lo) for lo, _ in rows]),
        np.array([float_up(hi) for _, hi in rows]),
        np.full(m, depth, dtype=np.int64),
        np.full(m, alpha_lo),
        np.full(m, alpha_hi),
        np.full(m, eta_lo),
        np.full(m, eta_hi),
        fp_lo,
        fp_hi,
        np.array([_kernel_regime(regime, mu) for regime, mu in zip(regimes, rows)], dtype=np.int32),
        horizon,
        levels_lo,
        levels_hi,
        np.array(snapshots, dtype=np.int64),
        max_events=MAX_EVENTS,
    )

    records = []
    for r in range(m):
        _raise_if_diverged(int(result.status[r]), int(result.last_step[r]), rows[r], instance)
        count = int(result.n_events[r])
        events = [
            (int(result.event_step[r, e]), int(result.event_j_lo[r, e]), int(result.event_j_hi[r, e])) for e in range(count)
        ]
        events = _exact_start(events, level_lists[r], instance)
        snaps = SnapshotTable(snapshots, result.snaps_lo[r].copy(), result.snaps_hi[r].copy(), {0: (instance.alpha**depth,) * 2})
        records.append(
            _make_record(rows[r], level_lists[r], tuple(events), snaps, result.status[r], result.last_step[r], horizon, regimes[r])
        )
    return records


def _kernel_regime(regime: Regime, mu: tuple[Fraction, Fraction]) -> int:
    """Return the compiled kernel's regime code: it separates falling to 0 (``mu <= 0``, code 3) from falling to a positive limit."""
    if regime is Regime.FALLING and mu[1] <= 0:
        return 3
    return int(regime)


def _make_record(mu, levels, events, snaps, status, last_step, horizon, regime) -> EigenvalueRecord:
    status = int(status)
    return EigenvalueRecord(
        mu=mu,
        levels=tuple(levels),
        events=tuple(events),
        snapshots=snaps,
        last_step=int(last_step) if status in (2, 3) else horizon,
        stationary=status == 3,
        complete=status != 2,
        regime=regime,
    )


def _raise_if_diverged(status: int, last_step: int, mu, instance: Instance) -> None:
    if status == 1:
        raise DivergenceError(
            f"gradient descent diverged at step {last_step} for eigenvalue mu = {float(mu[0]):.6g} of instance "
            f"{instance.id!r} (depth {instance.depth}, eta = {float(instance.eta):.6g}); the step-size number "
            f"S(mu) = eta N mu^(2-2/N) must stay below 2 for convergence, so decrease eta."
        )


def _exact_start(events: list, levels: Sequence[Fraction], instance: Instance) -> list:
    """Decide step 0 exactly: ``p(0) = alpha^N`` is a rational, so ties with a level are resolved."""
    start = instance.alpha**instance.depth
    reached = _count_reached(levels, start)
    if not events:
        return [(0, reached, reached)]
    first_step, first_low, first_high = events[0]
    if first_step == 0:
        events[0] = (0, reached, reached)
        # The rounded state of step 0 may last beyond it: keep it from step 1 on, where it is the engine's own.
        following = events[1][0] if len(events) > 1 else None
        if following != 1 and (first_low, first_high) != (reached, reached):
            events.insert(1, (1, first_low, first_high))
    merged: list = []
    for event in events:
        if merged and merged[-1][1:] == event[1:]:
            continue
        merged.append(event)
    return merged


# ---------------------------------------------------------------- high precision


def _run_mpmath(mu, levels, instance: Instance, horizon: int, snapshots: list[int], dps: int) -> EigenvalueRecord:
    depth = instance.depth
    wanted = set(snapshots)
    with mpmath.workdps(dps):
        mu_value = _mpf((mu[0] + mu[1]) / 2)
        eta = _mpf(instance.eta)
        x = _mpf(instance.alpha)
        level_values = [_mpf(level) for level in levels]

        events = []
        snaps = {}
        previous = None
        last_step = horizon
        stationary = False
        for k in range(horizon + 1):
            p = x**depth
            reached = _count_reached(level_values, p)
            if reached != previous:
                events.append((k, reached, reached))
                previous = reached
            if k in wanted:
                snaps[k] = p
            if k == horizon:
                break
            following = x + eta * x ** (depth - 1) * (mu_value - p)
            if not mpmath.isfinite(following) or abs(following) > DIVERGENCE_LIMIT:
                _raise_if_diverged(1, k + 1, mu, instance)
            if following == x:
                stationary, last_step = True, k
                break
            x = following

        if stationary:
            final = x**depth
            for k in snapshots:
                if k > last_step:
                    snaps[k] = final

    return EigenvalueRecord(mu, tuple(levels), tuple(events), _table(snaps), last_step, stationary, True, Regime.NONE)


def _run_certified_mpfr(mu, levels, instance: Instance, horizon: int, snapshots: list[int], bits: int) -> EigenvalueRecord:
    depth = instance.depth
    regime = _regime_or_raise(mu, instance)
    down = gmpy2.context(precision=bits, round=gmpy2.RoundDown)
    up = gmpy2.context(precision=bits, round=gmpy2.RoundUp)

    mu_lo, mu_hi = mpfr_down(mu[0], bits), mpfr_up(mu[1], bits)
    eta_lo, eta_hi = mpfr_down(instance.eta, bits), mpfr_up(instance.eta, bits)
    fixed_lo, fixed_hi = _fixed_point_enclosure(mu[0], mu[1], depth, bits)
    fp_lo, fp_hi = mpfr_down(fixed_lo, bits), mpfr_up(fixed_hi, bits)
    low, high = mpfr_down(instance.alpha, bits), mpfr_up(instance.alpha, bits)
    zero = gmpy2.mpfr(0)
    levels_q = [gmpy2.mpq(level.numerator, level.denominator) for level in levels]
    wanted = set(snapshots)

    events = []
    snaps = {}
    previous = None
    last_step = horizon
    stationary = False
    for k in range(horizon + 1):
        p_lo = _power(down, low, depth)
        p_hi = _power(up, high, depth)
        state = (_count_reached(levels_q, p_lo), _count_reached(levels_q, p_hi))
        if state != previous:
            events.append((k, *state))
            previous = state
        if k in wanted:
            snaps[k] = (p_lo, p_hi)
        if k == horizon:
            break

        next_low = _update_lower(down, up, low, mu_lo, eta_lo, eta_hi, depth)
        next_high = _update_upper(down, up, high, mu_hi, eta_lo, eta_hi, depth)
        if regime is Regime.RISING:
            # The true iterate never passes the fixed point; f is increasing only up to it.
            next_low = min(max(next_low, zero), fp_hi)
            next_high = fp_hi if high > fp_lo else min(next_high, fp_hi)
        else:
            # The true iterate decreases to the fixed point and never goes below it.
            next_low = max(next_low, fp_lo, zero)
        if not (gmpy2.is_finite(next_low) and gmpy2.is_finite(next_high)) or next_high > DIVERGENCE_LIMIT:
            _raise_if_diverged(1, k + 1, mu, instance)
        if next_low == low and next_high == high:
            stationary, last_step = True, k
            break
        low, high = next_low, next_high

    events = _exact_start(events, levels, instance)
    if stationary:
        final = (_power(down, low, depth), _power(up, high, depth))
        for k in snapshots:
            if k > last_step:
                snaps[k] = final
    steps = sorted(snaps)
    table = SnapshotTable(steps, [snaps[k][0] for k in steps], [snaps[k][1] for k in steps], {0: (instance.alpha**depth,) * 2})
    return EigenvalueRecord(mu, tuple(levels), tuple(events), table, last_step, stationary, True, regime)


def _table(values: Mapping[int, Any]) -> SnapshotTable:
    """Build a snapshot table from step -> value, for runs whose lower and upper values coincide."""
    steps = sorted(values)
    column = [values[k] for k in steps]
    return SnapshotTable(steps, column, column)


def _power(context, x, depth: int):
    result = x
    for _ in range(depth - 1):
        result = context.mul(result, x)
    return result


def _update_lower(down, up, x, mu_lo, eta_lo, eta_hi, depth):
    """Return a lower bound of ``f(x) = x + eta x^(N-1) (mu - x^N)`` over the parameter enclosures (x >= 0)."""
    difference = down.sub(mu_lo, _power(up, x, depth))
    if difference >= 0:
        increment = down.mul(down.mul(eta_lo, _power(down, x, depth - 1)), difference)
    else:
        increment = down.mul(up.mul(eta_hi, _power(up, x, depth - 1)), difference)
    return down.add(x, increment)


def _update_upper(down, up, x, mu_hi, eta_lo, eta_hi, depth):
    """Return an upper bound of ``f(x)`` over the parameter enclosures (x >= 0)."""
    difference = up.sub(mu_hi, _power(down, x, depth))
    if difference >= 0:
        increment = up.mul(up.mul(eta_hi, _power(up, x, depth - 1)), difference)
    else:
        increment = up.mul(down.mul(eta_lo, _power(down, x, depth - 1)), difference)
    return up.add(x, increment)


def _regime_or_raise(mu, instance: Instance) -> Regime:
    regime = classify(mu[0], mu[1], instance.alpha, instance.eta, instance.depth)
    if regime is Regime.NONE:
        raise CertificationError(
            f"no certified enclosure for instance {instance.id!r}: "
            f"{explain(mu[0], mu[1], instance.alpha, instance.eta, instance.depth)}; "
            "run uncertified with arithmetic='mpmath' (--arithmetic mpmath on the command line), or use a smaller eta."
        )
    return regime


def _fixed_point_enclosure(mu_lo: Fraction, mu_hi: Fraction, depth: int, bits: int) -> tuple[Fraction, Fraction]:
    """Return exact bounds of the x-space fixed points ``max(mu, 0)^(1/N)`` over ``[mu_lo, mu_hi]``."""
    low = _root_bound(max(mu_lo, Fraction(0)), depth, bits, upper=False)
    high = _root_bound(max(mu_hi, Fraction(0)), depth, bits, upper=True)
    return low, high


def _root_bound(value: Fraction, depth: int, bits: int, upper: bool) -> Fraction:
    """Return a rational bound of ``value^(1/N)``, checked exactly by raising it to the power ``N``."""
    if value == 0:
        return Fraction(0)
    with gmpy2.context(precision=bits + 20):
        estimate = gmpy2.root(gmpy2.mpq(value.numerator, value.denominator), depth)
    candidate = to_fraction_exact(estimate)
    step = candidate * Fraction(1, 2 ** (bits + 10)) + Fraction(1, 2 ** (bits + 200))
    while (candidate**depth < value) if upper else (candidate**depth > value):
        candidate = candidate + step if upper else candidate - step
        step *= 2
    return candidate


def _mpf(value: Fraction) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator
