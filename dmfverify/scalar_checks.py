"""The point iteration, divergence check and certification helpers shared by the scalar runners.

The pure-Python and high-precision runners treat an iterate of
``x(k+1) = x(k) + eta x(k)^(N-1) (mu - x(k)^N)`` that is not finite or exceeds
:data:`DIVERGENCE_LIMIT` as divergence (the compiled kernels use their own
constant of the same value), and every runner reports it through
``_raise_if_diverged``.  The certified runners share three more steps.  They
check that the eigenvalue enclosure lies in a monotone regime (see
:mod:`dmfverify.regime`), because outward rounding encloses the true iterate
only where the update is increasing on the region holding the trajectory.  They
clamp their bounds with rational bounds of the fixed point ``max(mu, 0)^(1/N)``,
each checked exactly by raising it to the power ``N``.  And they decide step 0
exactly, since ``p(0) = alpha^N`` is rational.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import gmpy2

from dmfverify.errors import CertificationError, DivergenceError
from dmfverify.instance import Instance
from dmfverify.regime import Regime, classify, explain
from dmfverify.rounding import to_fraction_exact
from dmfverify.scalar_records import _count_reached

__all__ = ["DIVERGENCE_LIMIT"]

#: Iterates larger than this count as divergence.
DIVERGENCE_LIMIT = 1e150


def _iterate_point(x, mu_value, eta, level_values, horizon: int, snapshots: Sequence[int], mu, instance: Instance,
                   isfinite) -> tuple[list, dict, int, bool]:
    """Iterate the recurrence from ``x`` in one arithmetic (Python float or mpf at the caller's precision).

    Returns the level-crossing events, the products at ``snapshots``, the last
    step computed and whether the iterate stopped changing exactly (then every
    later snapshot is that last product).  ``isfinite`` is the arithmetic's
    finiteness test; a non-finite or too large iterate raises DivergenceError.
    """
    depth = instance.depth
    snapshot_steps = set(snapshots)
    events, snaps, previous = [], {}, None
    last_step, stationary = horizon, False
    for k in range(horizon + 1):
        p = x**depth
        reached = _count_reached(level_values, p)
        if reached != previous:
            events.append((k, reached, reached))
            previous = reached
        if k in snapshot_steps:
            snaps[k] = p
        if k == horizon:
            break
        following = x + eta * x ** (depth - 1) * (mu_value - p)
        if not isfinite(following) or abs(following) > DIVERGENCE_LIMIT:
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
    return events, snaps, last_step, stationary


def _raise_if_diverged(status: int, last_step: int, mu, instance: Instance) -> None:
    if status == 1:
        raise DivergenceError(
            f"gradient descent diverged at step {last_step} for eigenvalue mu = {float(mu[0]):.6g} of instance "
            f"{instance.id!r} (depth {instance.depth}, eta = {float(instance.eta):.6g}); the step-size number "
            f"S(mu) = eta N mu^(2-2/N) must stay below 2 for convergence, so decrease eta."
        )


def _regime_or_raise(mu, instance: Instance) -> Regime:
    regime = classify(mu[0], mu[1], instance.alpha, instance.eta, instance.depth)
    if regime is Regime.NONE:
        raise CertificationError(
            f"no certified enclosure for instance {instance.id!r}: "
            f"{explain(mu[0], mu[1], instance.alpha, instance.eta, instance.depth)}; "
            "run uncertified with arithmetic='mpmath' (--arithmetic mpmath on the command line), or use a smaller eta."
        )
    return regime


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
