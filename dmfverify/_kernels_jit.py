"""Numba kernels behind :mod:`dmfverify.kernels`: float64 and outward-rounded scalar recurrences.

The public wrappers in :mod:`dmfverify.kernels` validate the arguments, allocate the
output arrays and call ``float64_rows`` or ``certified_rows`` (or their ``_parallel``
variants, which spread blocks of rows over numba's threads).  Nothing here checks its
arguments.

Rows are advanced in blocks of ``BLOCK_ROWS`` in lock-step.  One row is a serial chain of
dependent floating-point operations, so a single row is latency-bound.  Interleaving a
few independent rows lets the CPU overlap their chains.

Outward rounding relies on one fact: a float64 result ``r`` rounded to nearest lies within
half an ulp of the exact value ``v``, so ``pred(r) <= v <= succ(r)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

DIVERGENCE_LIMIT = 1e150
BLOCK_ROWS = 8

# Row status codes, mirrored by dmfverify.kernels.Status.
COMPLETED = 0
DIVERGED = 1
EVENT_OVERFLOW = 2
STATIONARY = 3
INCONSISTENT = 4

# Regime codes of the certified kernel, mirrored by dmfverify.kernels.Regime.
RISING = 1
FALLING = 2
DECAYING = 3

_UP_FACTOR = 1.0 + 2.0**-52
_DOWN_FACTOR = 1.0 - 2.0**-52
_ULP_FACTOR = 2.0**-52
_TINY = 5e-324  # smallest positive subnormal, 2**-1074


# ---------------------------------------------------------------------------
# Outward rounding.  Each helper takes r = fl(v), the rounded-to-nearest result of one
# operation with exact value v, and returns a float bound of v.  The "_nonneg" and
# "_nonpos" variants are valid only when v has that sign, and they are cheaper because the
# direction of the correction is known.  For normal r, |r| * 2**-52 >= ulp(r), so the
# scaled value rounds to at least one float past r.  For subnormal r, 2**-1074 is the ulp
# and adding it is exact.  NaN propagates through every helper (max/min keep a NaN that
# comes first), so a non-finite intermediate ends in a non-finite bound.


@njit(cache=True, inline="always")
def _up(r: float) -> float:
    return r + max(abs(r) * _ULP_FACTOR, _TINY)


@njit(cache=True, inline="always")
def _down(r: float) -> float:
    return r - max(abs(r) * _ULP_FACTOR, _TINY)


@njit(cache=True, inline="always")
def _up_nonneg(r: float) -> float:
    return r * _UP_FACTOR + _TINY


@njit(cache=True, inline="always")
def _down_nonneg(r: float) -> float:
    # The clamp at 0 is valid because v >= 0, and it keeps later products nonnegative.
    return max(r * _DOWN_FACTOR - _TINY, 0.0)


@njit(cache=True, inline="always")
def _up_nonpos(r: float) -> float:
    return r * _DOWN_FACTOR + _TINY


@njit(cache=True, inline="always")
def _down_nonpos(r: float) -> float:
    return r * _UP_FACTOR - _TINY


@njit(cache=True, inline="always")
def _power_bounds(x: float, n: int) -> tuple[float, float]:
    """Return a lower and an upper float bound of ``x**n`` for ``x >= 0`` and ``n >= 0``."""
    if n == 0:
        return 1.0, 1.0

    low = x
    high = x
    for _ in range(n - 1):
        low = _down_nonneg(low * x)
        high = _up_nonneg(high * x)
    return low, high


@njit(cache=True, inline="always")
def _lower_update(x, xp_low, xp_high, p_high, mu_lo, eta_lo, eta_hi):
    """Return a lower bound of ``min f(x)`` over the parameter box, for ``x >= 0``.

    ``f`` increases with ``mu``.  It increases with ``eta`` where ``mu - x^N >= 0`` and
    decreases where it is negative, so the sign of ``mu_lo - x^N`` picks the ``eta``
    endpoint.  A float difference is zero only when the exact one is, and it has the
    exact difference's sign, so the branch on ``r`` is exact.
    """
    r = mu_lo - p_high
    if r >= 0.0:
        u = _down_nonneg(_down_nonneg(eta_lo * xp_low) * _down_nonneg(r))
        return _down_nonneg(x + u)

    u = _down_nonpos(_up_nonneg(eta_hi * xp_high) * _down_nonpos(r))
    return _down(x + u)


@njit(cache=True, inline="always")
def _upper_update(x, xp_low, xp_high, p_low, mu_hi, eta_lo, eta_hi):
    """Return an upper bound of ``max f(x)`` over the parameter box, for ``x >= 0``."""
    r = mu_hi - p_low
    if r >= 0.0:
        u = _up_nonneg(_up_nonneg(eta_hi * xp_high) * _up_nonneg(r))
        return _up_nonneg(x + u)

    u = _up_nonpos(_down_nonneg(eta_lo * xp_low) * _up_nonpos(r))
    return _up(x + u)


@njit(cache=True, inline="always")
def _slope_deficit(hi, p_high, depth, mu_lo, eta_hi):
    """Return an upper bound of ``max(0, -f'(t))`` for ``0 <= t <= hi`` over the parameter box.

    ``-f'(t) = eta t^(N-2) ((2N-1) t^N - (N-1) mu) - 1``, and the product term is largest
    at ``t = hi``, ``mu = mu_lo``, ``eta = eta_hi`` whenever it is positive.
    """
    growth = _up(_up_nonneg((2.0 * depth - 1.0) * p_high) - _down((depth - 1.0) * mu_lo))
    if growth <= 0.0:
        return 0.0

    q_high = _power_bounds(hi, depth - 2)[1]
    g = _up_nonneg(_up_nonneg(eta_hi * q_high) * growth)
    return max(_up(g - 1.0), 0.0)


# ---------------------------------------------------------------------------
# Level bookkeeping shared by both kernels.


@njit(cache=True, inline="always")
def _level_index(levels, j, p):
    """Return the number of ``levels`` (ascending) that are ``<= p``, searching from ``j``."""
    n_levels = levels.shape[0]
    while j < n_levels and levels[j] <= p:
        j += 1
    while j > 0 and levels[j - 1] > p:
        j -= 1
    return j


@njit(cache=True, inline="always")
def _level_above(levels, j):
    return levels[j] if j < levels.shape[0] else np.inf


@njit(cache=True, inline="always")
def _level_below(levels, j):
    return levels[j - 1] if j > 0 else -np.inf


@njit(cache=True, inline="always")
def _push_event(row, step, j_first, j_second, event_step, event_j, event_j2, n_events, status):
    """Append one event to ``row``, or mark the row ``EVENT_OVERFLOW`` when its buffer is full."""
    n = n_events[row]
    if n < event_step.shape[1]:
        event_step[row, n] = step
        event_j[row, n] = j_first
        event_j2[row, n] = j_second
        n_events[row] = n + 1
    else:
        status[row] = EVENT_OVERFLOW


# ---------------------------------------------------------------------------
# float64 kernel


@njit(cache=True)
def _float64_block(start, stop, mu, depth, alpha, eta, horizon, levels, snap_steps,
                   event_step, event_j, n_events, snaps, status, last_step):
    """Run rows ``start:stop`` of the float64 kernel in lock-step, filling the outputs."""
    n_rows = stop - start
    n_snaps = snap_steps.shape[0]
    x = np.empty(n_rows)
    p = np.empty(n_rows)
    j = np.zeros(n_rows, np.int64)
    above = np.empty(n_rows)
    below = np.empty(n_rows)
    running = np.ones(n_rows, np.bool_)

    for b in range(n_rows):
        row = start + b
        x[b] = alpha[row]
        xp = alpha[row]
        for _ in range(depth[row] - 2):
            xp *= alpha[row]
        j[b] = _level_index(levels[row], 0, xp * alpha[row])
        above[b] = _level_above(levels[row], j[b])
        below[b] = _level_below(levels[row], j[b])
        status[row] = COMPLETED
        last_step[row] = horizon
        n_events[row] = 0
        _push_event(row, 0, j[b], j[b], event_step, event_j, event_j, n_events, status)

    n_running = n_rows
    s = 0
    for k in range(horizon + 1):
        if n_running == 0:
            break

        diverged_now = False
        for b in range(n_rows):
            if not running[b]:
                continue
            row = start + b

            xk = x[b]
            xp = xk
            for _ in range(depth[row] - 2):
                xp *= xk
            pk = xp * xk
            p[b] = pk

            if pk >= above[b] or pk < below[b]:
                jb = _level_index(levels[row], j[b], pk)
                j[b] = jb
                above[b] = _level_above(levels[row], jb)
                below[b] = _level_below(levels[row], jb)
                _push_event(row, k, jb, jb, event_step, event_j, event_j, n_events, status)

            if k == horizon:
                continue

            x_next = xk + eta[row] * xp * (mu[row] - pk)
            if not abs(x_next) <= DIVERGENCE_LIMIT:
                status[row] = DIVERGED
                last_step[row] = k + 1
                running[b] = False
                n_running -= 1
                diverged_now = True
            elif x_next == xk:
                # f(x_k) == x_k, so every later iterate equals x_k as well.
                if status[row] == COMPLETED:
                    status[row] = STATIONARY
                last_step[row] = k + 1
                running[b] = False
                n_running -= 1
            else:
                x[b] = x_next

        while s < n_snaps and snap_steps[s] == k:
            for b in range(n_rows):
                snaps[start + b, s] = p[b]
            s += 1

        if diverged_now:
            for b in range(n_rows):
                if status[start + b] == DIVERGED:
                    p[b] = np.nan

    while s < n_snaps:
        for b in range(n_rows):
            snaps[start + b, s] = p[b]
        s += 1


@njit(cache=True)
def float64_rows(mu, depth, alpha, eta, horizon, levels, snap_steps,
                  event_step, event_j, n_events, snaps, status, last_step):
    m = mu.shape[0]
    for start in range(0, m, BLOCK_ROWS):
        _float64_block(start, min(start + BLOCK_ROWS, m), mu, depth, alpha, eta, horizon,
                       levels, snap_steps, event_step, event_j, n_events, snaps, status,
                       last_step)


@njit(cache=True, parallel=True)
def float64_rows_parallel(mu, depth, alpha, eta, horizon, levels, snap_steps,
                           event_step, event_j, n_events, snaps, status, last_step):
    m = mu.shape[0]
    n_blocks = (m + BLOCK_ROWS - 1) // BLOCK_ROWS
    for block in prange(n_blocks):
        start = block * BLOCK_ROWS
        _float64_block(start, min(start + BLOCK_ROWS, m), mu, depth, alpha, eta, horizon,
                       levels, snap_steps, event_step, event_j, n_events, snaps, status,
                       last_step)


# ---------------------------------------------------------------------------
# Certified kernel


@njit(cache=True, inline="always")
def _certified_step(lo, hi, lo_pow_low, lo_pow_high, hi_pow_low, hi_pow_high, p_high,
                    depth, regime, mu_lo, mu_hi, alpha_lo, eta_lo, eta_hi, fp_lo, fp_hi):
    """Return ``(lo_{k+1}, hi_{k+1})`` from ``(lo_k, hi_k)``, given ``lo_k <= x_k <= hi_k``.

    The ``*_pow_*`` arguments bound ``lo_k^(N-1)`` and ``hi_k^(N-1)``, and ``p_high``
    bounds ``hi_k^N`` from above.
    """
    lo_p_high = _up_nonneg(lo_pow_high * lo)
    hi_p_low = _down_nonneg(hi_pow_low * hi)

    if regime == RISING:
        # On [0, mu^(1/N)] f is increasing and f(x) >= x, so x_{k+1} >= f(lo_k) and also
        # x_{k+1} >= x_k >= lo_k.  x never passes mu^(1/N) <= fp_hi.
        lo_next = _lower_update(lo, lo_pow_low, lo_pow_high, lo_p_high, mu_lo, eta_lo, eta_hi)
        lo_next = min(max(lo_next, lo), fp_hi)
        if hi > fp_lo:
            # hi_k may lie above mu^(1/N), where f can decrease, so only the fixed point
            # bound x_{k+1} <= mu^(1/N) <= fp_hi is valid.
            hi_next = fp_hi
        else:
            # x_k <= hi_k <= fp_lo <= mu^(1/N): both lie where f is increasing.
            hi_next = _upper_update(hi, hi_pow_low, hi_pow_high, hi_p_low, mu_hi, eta_lo, eta_hi)
            hi_next = min(hi_next, fp_hi)
        return lo_next, hi_next

    if regime == FALLING:
        if lo < fp_hi:
            # The exact trajectory never goes below mu^(1/N) >= fp_lo.  Once lo_k reaches
            # the fixed point enclosure, that bound is as tight as an update and needs no
            # argument about where f is increasing.
            lo_next = fp_lo
        else:
            # mu^(1/N) <= fp_hi <= lo_k <= x_k <= alpha: f is increasing there.
            lo_next = _lower_update(lo, lo_pow_low, lo_pow_high, lo_p_high, mu_lo, eta_lo, eta_hi)
            lo_next = max(lo_next, fp_lo)
    else:
        # Regime 3: 0 <= lo_k <= x_k <= alpha, where f is increasing and f(x) >= 0.
        lo_next = _lower_update(lo, lo_pow_low, lo_pow_high, lo_p_high, mu_lo, eta_lo, eta_hi)
        lo_next = max(lo_next, 0.0)

    # Regimes 2 and 3: f is increasing on the interval from the limit to alpha.  While
    # hi_k <= alpha_lo <= alpha, [x_k, hi_k] lies inside it.  Above alpha_lo the bound
    # f(x_k) <= f(hi_k) + max(0, -f') (hi_k - lo_k) (mean value theorem) replaces
    # monotonicity.  x decreases, so hi_k is also an upper bound of x_{k+1}.
    hi_next = _upper_update(hi, hi_pow_low, hi_pow_high, hi_p_low, mu_hi, eta_lo, eta_hi)
    if hi > alpha_lo:
        deficit = _slope_deficit(hi, p_high, depth, mu_lo, eta_hi)
        hi_next = _up(hi_next + _up_nonneg(deficit * _up(hi - lo)))
    return lo_next, min(hi_next, hi)


@njit(cache=True)
def _certified_block(start, stop, mu_lo, mu_hi, depth, alpha_lo, alpha_hi, eta_lo, eta_hi,
                     fp_lo, fp_hi, regime, horizon, levels_lo, levels_hi, snap_steps,
                     event_step, event_j_lo, event_j_hi, n_events, snaps_lo, snaps_hi,
                     status, last_step):
    """Run rows ``start:stop`` of the certified kernel in lock-step, filling the outputs."""
    n_rows = stop - start
    n_snaps = snap_steps.shape[0]
    lo = np.empty(n_rows)
    hi = np.empty(n_rows)
    p_lo = np.empty(n_rows)
    p_hi = np.empty(n_rows)
    j_lo = np.zeros(n_rows, np.int64)
    j_hi = np.zeros(n_rows, np.int64)
    above_lo = np.empty(n_rows)
    below_lo = np.empty(n_rows)
    above_hi = np.empty(n_rows)
    below_hi = np.empty(n_rows)
    running = np.ones(n_rows, np.bool_)

    for b in range(n_rows):
        row = start + b
        lo[b] = alpha_lo[row]
        hi[b] = alpha_hi[row]
        if regime[row] == RISING:
            # alpha <= mu^(1/N) <= fp_hi in regime 1.
            hi[b] = min(alpha_hi[row], fp_hi[row])
        status[row] = COMPLETED
        last_step[row] = horizon
        n_events[row] = 0
        # j = -1 forces an event at step 0 below.
        j_lo[b] = -1
        above_lo[b] = -np.inf
        below_lo[b] = -np.inf
        above_hi[b] = -np.inf
        below_hi[b] = -np.inf

    n_running = n_rows
    s = 0
    for k in range(horizon + 1):
        if n_running == 0:
            break

        diverged_now = False
        for b in range(n_rows):
            if not running[b]:
                continue
            row = start + b
            n = depth[row]

            lo_k = lo[b]
            hi_k = hi[b]
            lo_pow_low, lo_pow_high = _power_bounds(lo_k, n - 1)
            hi_pow_low, hi_pow_high = _power_bounds(hi_k, n - 1)
            plo = _down_nonneg(lo_pow_low * lo_k)
            phi = _up_nonneg(hi_pow_high * hi_k)
            p_lo[b] = plo
            p_hi[b] = phi

            changed = False
            if plo >= above_lo[b] or plo < below_lo[b]:
                jb = _level_index(levels_hi[row], max(j_lo[b], 0), plo)
                changed = jb != j_lo[b]
                j_lo[b] = jb
                above_lo[b] = _level_above(levels_hi[row], jb)
                below_lo[b] = _level_below(levels_hi[row], jb)
            if phi >= above_hi[b] or phi < below_hi[b]:
                jb = _level_index(levels_lo[row], j_hi[b], phi)
                changed = changed or jb != j_hi[b]
                j_hi[b] = jb
                above_hi[b] = _level_above(levels_lo[row], jb)
                below_hi[b] = _level_below(levels_lo[row], jb)
            if changed:
                _push_event(row, k, j_lo[b], j_hi[b], event_step, event_j_lo, event_j_hi,
                            n_events, status)

            if k == horizon:
                continue

            lo_next, hi_next = _certified_step(
                lo_k, hi_k, lo_pow_low, lo_pow_high, hi_pow_low, hi_pow_high, phi, n,
                regime[row], mu_lo[row], mu_hi[row], alpha_lo[row], eta_lo[row], eta_hi[row],
                fp_lo[row], fp_hi[row])
            if not (abs(lo_next) <= DIVERGENCE_LIMIT and abs(hi_next) <= DIVERGENCE_LIMIT):
                status[row] = DIVERGED
                last_step[row] = k + 1
                running[b] = False
                n_running -= 1
                diverged_now = True
            elif lo_next > hi_next:
                # Impossible when the inputs are consistent: the regime is wrong or an
                # enclosure does not contain its exact value.
                status[row] = INCONSISTENT
                last_step[row] = k + 1
                running[b] = False
                n_running -= 1
                diverged_now = True
            elif lo_next == lo_k and hi_next == hi_k:
                # The step is a function of (lo_k, hi_k) alone, so it repeats forever.
                if status[row] == COMPLETED:
                    status[row] = STATIONARY
                last_step[row] = k + 1
                running[b] = False
                n_running -= 1
            else:
                lo[b] = lo_next
                hi[b] = hi_next

        while s < n_snaps and snap_steps[s] == k:
            for b in range(n_rows):
                snaps_lo[start + b, s] = p_lo[b]
                snaps_hi[start + b, s] = p_hi[b]
            s += 1

        if diverged_now:
            for b in range(n_rows):
                if status[start + b] == DIVERGED or status[start + b] == INCONSISTENT:
                    p_lo[b] = np.nan
                    p_hi[b] = np.nan

    while s < n_snaps:
        for b in range(n_rows):
            snaps_lo[start + b, s] = p_lo[b]
            snaps_hi[start + b, s] = p_hi[b]
        s += 1


@njit(cache=True)
def certified_rows(mu_lo, mu_hi, depth, alpha_lo, alpha_hi, eta_lo, eta_hi, fp_lo, fp_hi,
                    regime, horizon, levels_lo, levels_hi, snap_steps, event_step, event_j_lo,
                    event_j_hi, n_events, snaps_lo, snaps_hi, status, last_step):
    m = mu_lo.shape[0]
    for start in range(0, m, BLOCK_ROWS):
        _certified_block(start, min(start + BLOCK_ROWS, m), mu_lo, mu_hi, depth, alpha_lo,
                         alpha_hi, eta_lo, eta_hi, fp_lo, fp_hi, regime, horizon, levels_lo,
                         levels_hi, snap_steps, event_step, event_j_lo, event_j_hi, n_events,
                         snaps_lo, snaps_hi, status, last_step)


@njit(cache=True, parallel=True)
def certified_rows_parallel(mu_lo, mu_hi, depth, alpha_lo, alpha_hi, eta_lo, eta_hi, fp_lo,
                             fp_hi, regime, horizon, levels_lo, levels_hi, snap_steps,
                             event_step, event_j_lo, event_j_hi, n_events, snaps_lo, snaps_hi,
                             status, last_step):
    m = mu_lo.shape[0]
    n_blocks = (m + BLOCK_ROWS - 1) // BLOCK_ROWS
    for block in prange(n_blocks):
        start = block * BLOCK_ROWS
        _certified_block(start, min(start + BLOCK_ROWS, m), mu_lo, mu_hi, depth, alpha_lo,
                         alpha_hi, eta_lo, eta_hi, fp_lo, fp_hi, regime, horizon, levels_lo,
                         levels_hi, snap_steps, event_step, event_j_lo, event_j_hi, n_events,
                         snaps_lo, snaps_hi, status, last_step)
