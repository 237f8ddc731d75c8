"""High-precision runners of the scalar recurrence: mpmath and certified MPFR.

``_run_mpmath`` iterates ``x(k+1) = x(k) + eta x(k)^(N-1) (mu - x(k)^N)`` at
``dps`` decimal digits inside ``mpmath.workdps``, with ``mu`` the midpoint of its
enclosure, so it is accurate but not certified.  ``_run_certified_mpfr`` carries
a lower and an upper trajectory in gmpy2 (MPFR) at ``bits`` bits with directed
rounding.  ``_update_lower`` and ``_update_upper`` bound ``f(x)`` over the
enclosures of ``mu`` and ``eta``.  These bounds enclose the true iterate because
``f`` is increasing on the region holding the trajectory, and the runner clamps
them with rational bounds of the fixed point ``max(mu, 0)^(1/N)``.
"""

from __future__ import annotations

from fractions import Fraction

import gmpy2
import mpmath

from dmfverify.instance import Instance
from dmfverify.regime import Regime
from dmfverify.rounding import mpfr_down, mpfr_up
from dmfverify.scalar_checks import (
    DIVERGENCE_LIMIT,
    _exact_start,
    _iterate_point,
    _fixed_point_enclosure,
    _raise_if_diverged,
    _regime_or_raise,
)
from dmfverify.scalar_records import EigenvalueRecord, SnapshotTable, _count_reached, _table

__all__: list[str] = []


def _run_mpmath(mu, levels, instance: Instance, horizon: int, snapshots: list[int], dps: int) -> EigenvalueRecord:
    with mpmath.workdps(dps):
        mu_value = _mpf((mu[0] + mu[1]) / 2)
        eta = _mpf(instance.eta)
        x = _mpf(instance.alpha)
        level_values = [_mpf(level) for level in levels]
        events, snaps, last_step, stationary = _iterate_point(x, mu_value, eta, level_values, horizon, snapshots, mu, instance,
                                                              mpmath.isfinite)

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
    snapshot_steps = set(snapshots)

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
        if k in snapshot_steps:
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


def _mpf(value: Fraction) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator
