r"""Scalar parameters of an instance: depth ``N``, ``alpha``, step size, rank, ``eps`` and ``delta``.

Step sizes are drawn through the step-size number ``S(mu) = eta N mu^(2 - 2/N)``
of a reference eigenvalue, that is relative to the monotone-regime limit
``eta_max = 1 / (N mu^(2 - 2/N))``, and :func:`step_size_for` converts ``S``
back to an exact ``eta``.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR
from fractions import Fraction
from typing import Any

import gmpy2
import mpmath
from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument
from dmfverify.strategies.decimal_draws import _GRID, _as_fraction, _round_significant, log_uniform_decimals

__all__ = ["depths", "alphas", "step_size_numbers", "step_size_for", "ranks", "accuracies", "leakage_levels"]


def depths(min_depth: int = 2, max_depth: int = 6) -> st.SearchStrategy[int]:
    """Draw a depth ``N`` in ``[min_depth, max_depth]``; shrinks towards ``min_depth``."""
    if min_depth < 2 or min_depth > max_depth:
        raise InvalidArgument(f"depths: [{min_depth}, {max_depth}] is invalid; the depth must satisfy 2 <= min_depth <= max_depth.")
    return st.integers(min_depth, max_depth)


def alphas(min_value: Any = "1e-8", max_value: Any = "1") -> st.SearchStrategy[Fraction]:
    """Draw the initial scale ``alpha`` log-uniformly from ``[min_value, max_value]`` (three significant digits).

    Shrinks towards ``max_value``: a large ``alpha`` gives the shortest runs.
    """
    return log_uniform_decimals(min_value, max_value, digits=3, shrink_towards="max")


def step_size_numbers(min_value: Any = "0.05", max_value: Any = 1, *, above_one: bool = False) -> st.SearchStrategy[Fraction]:
    r"""Draw a step-size number ``S = eta N mu^(2-2/N)`` for the reference eigenvalue.

    Mixes the edge ``S = 1`` exactly (when ``max_value >= 1``), ``S = 1 - 10^-9``
    and log-uniform interior values in ``[min_value, max_value]``.  With
    ``above_one`` it also draws ``S = 1 + 10^-j`` (``j`` in 3..9), just past the
    monotone regime.  Shrinks towards ``S = 1`` (or ``max_value`` when it is below 1).
    """
    high = _as_fraction(max_value)
    edges = []
    if high >= 1:
        edges = [st.just(Fraction(1)), st.just(1 - Fraction(1, 10**9))]
    interior = log_uniform_decimals(min_value, high, digits=3, shrink_towards="max")
    choices = edges + [interior, interior, interior, interior]
    if above_one:
        choices.append(st.integers(3, 9).map(lambda j: 1 + Fraction(1, 10**j)))
    return st.one_of(*choices)


def _exact_power(mu: Fraction, depth: int) -> Fraction | None:
    """Return ``mu^(2 - 2/N)`` when it is rational, else None."""
    exponent_numerator, exponent_denominator = 2 * depth - 2, depth
    common = math.gcd(exponent_numerator, exponent_denominator)
    exponent_numerator //= common
    exponent_denominator //= common
    roots = []
    for part in (mu.numerator, mu.denominator):
        root, exact = gmpy2.iroot(gmpy2.mpz(part), exponent_denominator)
        if not exact:
            return None
        roots.append(int(root))
    return Fraction(roots[0], roots[1]) ** exponent_numerator


def step_size_for(S: Any, mu: Any, depth: int) -> Fraction:
    r"""Return the step size ``eta = S / (N mu^(2 - 2/N))`` as an exact number.

    Exact when ``mu^(2-2/N)`` is rational (for example ``mu = 1``); otherwise
    rounded to 15 significant digits downwards for ``S <= 1``, so that
    ``S(mu) <= S`` is exact, and upwards for ``S > 1``.

    >>> step_size_for(1, 1, 3)
    Fraction(1, 3)
    >>> float(step_size_for("0.5", 2, 2))
    0.125
    """
    S, mu = _as_fraction(S), _as_fraction(mu)
    if mu <= 0 or S <= 0:
        raise InvalidArgument(f"step_size_for: S = {S} and mu = {mu} must both be positive; pass the top positive eigenvalue.")
    exact = _exact_power(mu, depth)
    if exact is not None:
        return S / (depth * exact)
    with mpmath.workdps(40):
        value = mpmath.mpf(S.numerator) / S.denominator / (depth * (mpmath.mpf(mu.numerator) / mu.denominator) ** (mpmath.mpf(2 * depth - 2) / depth))
        return _round_significant(value, 15, ROUND_FLOOR if S <= 1 else ROUND_CEILING)


def ranks(n: int) -> st.SearchStrategy[int]:
    """Draw a rank ``r`` in ``[1, n - 1]``; shrinks towards 1."""
    if n < 2:
        raise InvalidArgument(f"ranks: n = {n} is too small; a low-rank phase needs n >= 2.")
    return st.integers(1, n - 1)


def accuracies(min_value: Any = "0.001", max_value: Any = "0.3") -> st.SearchStrategy[Fraction]:
    """Draw the accuracy ``eps`` log-uniformly from ``[min_value, max_value]``; shrinks towards ``max_value`` (easiest to reach)."""
    return log_uniform_decimals(min_value, max_value, digits=2, shrink_towards="max")


def leakage_levels(floor: Any, ceiling: Any) -> st.SearchStrategy[Fraction]:
    r"""Draw the leakage level ``delta`` strictly inside ``(floor, ceiling)``, log-uniformly in the middle 90%.

    ``floor`` is ``alpha^N`` (where every product eigenvalue starts) and
    ``ceiling`` typically ``v*(lambda_(r+1))``.  Shrinks towards the geometric
    mean's upper side, the largest allowed level.
    """
    low, high = _as_fraction(floor), _as_fraction(ceiling)
    if not 0 < low < high:
        raise InvalidArgument(f"leakage_levels: ({low}, {high}) is empty; the ceiling must exceed the positive floor.")
    log_low, log_high = math.log(low), math.log(high)

    def build(step: int) -> Fraction:
        t = 0.95 - 0.9 * step / _GRID
        value = _round_significant(math.exp(log_low + t * (log_high - log_low)), 3)
        return min(max(value, low * Fraction(1001, 1000)), high * Fraction(999, 1000))

    return st.integers(0, _GRID).map(build)
