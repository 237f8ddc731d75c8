"""Binary64 runners of the scalar recurrence, plain and certified.

``_run_float64`` iterates ``x(k+1) = x(k) + eta x(k)^(N-1) (mu - x(k)^N)`` for
all distinct eigenvalues at once in the compiled kernel
:func:`dmfverify.kernels.run_float64`, rounding to nearest, with ``mu`` the
midpoint of its enclosure.  ``_run_python_float`` is the same loop in Python
floats, used when the compiled kernels are unavailable.
``_run_certified_float64`` calls :func:`dmfverify.kernels.run_certified`, which
carries a lower and an upper trajectory with one-ulp outward steps, clamped by
rational bounds of the fixed point.  The eigenvalue enclosures, ``alpha`` and
``eta`` enter it as outward-rounded binary64 bounds, and step 0 is decided
exactly.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from dmfverify.instance import Instance
from dmfverify.regime import Regime
from dmfverify.rounding import float_down, float_up
from dmfverify.scalar_checks import (
    _exact_start,
    _iterate_point,
    _fixed_point_enclosure,
    _raise_if_diverged,
    _regime_or_raise,
)
from dmfverify.scalar_records import EigenvalueRecord, SnapshotTable, _table

__all__ = ["MAX_EVENTS"]

#: Events kept per eigenvalue by the compiled kernels; more means an oscillating
#: trajectory crossing the same levels again and again.
MAX_EVENTS = 512


def _run_python_float(mu, levels, instance: Instance, horizon: int, snapshots: list[int]) -> EigenvalueRecord:
    """Run the recurrence in Python floats (binary64), the reference for the compiled float64 kernel."""
    mu_value, eta, x = float((mu[0] + mu[1]) / 2), float(instance.eta), float(instance.alpha)
    level_values = [float(level) for level in levels]
    events, snaps, last_step, stationary = _iterate_point(x, mu_value, eta, level_values, horizon, snapshots, mu, instance,
                                                          math.isfinite)
    return EigenvalueRecord(mu, tuple(levels), tuple(events), _table(snaps), last_step, stationary, True, Regime.NONE)


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
