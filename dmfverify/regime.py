"""Monotone regimes of the scalar recurrence, decided in exact rational arithmetic.

For one eigenvalue ``mu`` the aligned gradient descent reduces to
``x_{k+1} = f(x_k) = x_k + eta x_k^(N-1) (mu - x_k^N)``, ``x_0 = alpha``, with
``f'(x) = 1 + eta ((N-1) mu x^(N-2) - (2N-1) x^(2N-2))``.  Two regimes make ``f``
increasing on the region that holds the trajectory, which is what the
certified enclosure needs (a lower and an upper trajectory propagated
separately then enclose the true one):

``RISING``
    ``0 < alpha^N <= mu`` and ``S(mu) = eta N mu^(2 - 2/N) <= 1``.  On
    ``[0, mu^(1/N)]`` the derivative is smallest at the right end, where it
    equals ``1 - S(mu) >= 0``; ``f`` maps the interval into itself and
    ``f(x) > x`` inside, so ``x_k`` increases to ``mu^(1/N)`` and never passes it.
``FALLING``
    ``mu < alpha^N`` (including ``mu <= 0``) and
    ``eta alpha^(N-2) ((N-1) max(-mu, 0) + (2N-1) alpha^N) <= 1``.  Then
    ``f' >= 0`` on ``[0, alpha]`` for every such ``mu``, and ``f(x) < x`` above
    the fixed point ``max(mu, 0)^(1/N)``, so ``x_k`` decreases to it and stays
    at or above it.

The decision is made for every ``mu`` in an enclosure ``[mu_lo, mu_hi]`` at
once, so an eigenvalue known only to a radius is classified rigorously.

>>> from fractions import Fraction as F
>>> classify(F(1), F(1), F(1, 10), F(1, 20), 3)
<Regime.RISING: 1>
>>> classify(F(1), F(1), F(1, 10), F(1, 2), 3) is Regime.NONE   # S = 1.5: oscillating approach
True
"""

from __future__ import annotations

import enum
from fractions import Fraction

__all__ = ["Regime", "classify", "step_size_at_most_one", "explain"]


class Regime(enum.IntEnum):
    """Monotone regime of the scalar recurrence (the integer codes are those of the compiled kernels)."""

    NONE = 0
    RISING = 1
    FALLING = 2


def step_size_at_most_one(mu: Fraction, eta: Fraction, depth: int) -> bool:
    """Decide ``S(mu) = eta N mu^(2 - 2/N) <= 1`` exactly, as ``(eta N)^N mu^(2N - 2) <= 1``."""
    if mu <= 0:
        return True
    return (eta * depth) ** depth * mu ** (2 * depth - 2) <= 1


def classify(mu_lo: Fraction, mu_hi: Fraction, alpha: Fraction, eta: Fraction, depth: int) -> Regime:
    """Return the monotone regime valid for every ``mu`` in ``[mu_lo, mu_hi]``, or ``Regime.NONE``."""
    start = alpha**depth

    if mu_lo >= start and step_size_at_most_one(mu_hi, eta, depth):
        return Regime.RISING

    if mu_hi < start:
        negative_part = max(-mu_lo, Fraction(0))
        bound = eta * alpha ** (depth - 2) * ((depth - 1) * negative_part + (2 * depth - 1) * start)
        if bound <= 1:
            return Regime.FALLING

    return Regime.NONE


def explain(mu_lo: Fraction, mu_hi: Fraction, alpha: Fraction, eta: Fraction, depth: int) -> str:
    """Say in one sentence why ``[mu_lo, mu_hi]`` is in no monotone regime."""
    start = alpha**depth
    if mu_lo < start <= mu_hi:
        return (
            f"the eigenvalue enclosure [{float(mu_lo):.6g}, {float(mu_hi):.6g}] contains alpha^N = {float(start):.6g}, "
            "so it is unknown whether the trajectory rises or falls"
        )
    if mu_lo >= start:
        return (
            f"the step-size number S(mu) = eta N mu^(2-2/N) exceeds 1 for mu = {float(mu_hi):.6g}, "
            "so the update is not monotone near the fixed point and the approach may oscillate"
        )
    return (
        f"eta alpha^(N-2) ((N-1) |mu| + (2N-1) alpha^N) exceeds 1 for mu = {float(mu_lo):.6g}, "
        "so the update is not monotone on [0, alpha]"
    )
