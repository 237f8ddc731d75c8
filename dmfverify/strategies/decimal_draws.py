r"""Exact decimal draws, the building block of every number the strategies produce.

A draw picks an integer ``k`` in ``[0, 10000]`` and maps it to a value in
``[min_value, max_value]``, uniformly (:func:`decimals`) or uniformly in the
logarithm (:func:`log_uniform_decimals`), then rounds it to a few significant
decimal digits as an exact :class:`~fractions.Fraction`.  Shrinking ``k``
towards zero moves the value towards the chosen end of the range.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

import mpmath
from hypothesis import strategies as st

from dmfverify.errors import InvalidArgument

__all__ = ["decimals", "log_uniform_decimals"]


#: Resolution of the integer draw behind a log-uniform or uniform value.
_GRID = 10_000


def _round_significant(value: Any, digits: int, rounding: str = ROUND_HALF_EVEN) -> Fraction:
    """Round a positive or negative real to ``digits`` significant decimal digits, exactly."""
    if value == 0:
        return Fraction(0)
    text = mpmath.nstr(mpmath.mpf(value), digits + 10, strip_zeros=False) if isinstance(value, mpmath.mpf) else repr(float(value))
    number = Decimal(text)
    exponent = number.adjusted() - digits + 1
    return Fraction(number.quantize(Decimal(1).scaleb(exponent), rounding=rounding))


def _as_fraction(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, str)):
        return Fraction(value)
    return Fraction(Decimal(repr(float(value))))


def decimals(min_value: Any, max_value: Any, *, digits: int = 3) -> st.SearchStrategy[Fraction]:
    """Draw a decimal uniformly from ``[min_value, max_value]`` with ``digits`` significant digits.

    Shrinks towards ``min_value``.  String, int and Fraction bounds are exact,
    and a float bound is read as its shortest decimal repr.
    """
    low, high = _as_fraction(min_value), _as_fraction(max_value)
    if low > high:
        raise InvalidArgument(f"decimals: min_value = {low} exceeds max_value = {high}; swap the bounds.")

    def build(step: int) -> Fraction:
        value = low + (high - low) * Fraction(step, _GRID)
        if step in (0, _GRID) or value == 0:
            return value
        return min(max(_round_significant(value, digits), low), high)

    return st.integers(0, _GRID).map(build)


def log_uniform_decimals(min_value: Any, max_value: Any, *, digits: int = 3, shrink_towards: str = "min") -> st.SearchStrategy[Fraction]:
    """Draw a decimal log-uniformly from ``[min_value, max_value]`` (both > 0) with ``digits`` significant digits.

    Every decade is equally likely, so tiny values such as ``alpha = 1e-6`` come
    up as often as ``0.1``.  Shrinks towards ``min_value`` or, with
    ``shrink_towards="max"``, towards ``max_value``; the endpoint itself is
    returned unrounded.
    """
    low, high = _as_fraction(min_value), _as_fraction(max_value)
    if low <= 0 or low > high:
        raise InvalidArgument(
            f"log_uniform_decimals: the bounds [{low}, {high}] are invalid; they must satisfy 0 < min_value <= max_value."
        )
    if shrink_towards not in ("min", "max"):
        raise InvalidArgument(f"shrink_towards = {shrink_towards!r} is invalid; use 'min' or 'max'.")
    log_low, log_high = math.log(low), math.log(high)

    def build(step: int) -> Fraction:
        if shrink_towards == "max":
            step = _GRID - step
        if step == 0:
            return low
        if step == _GRID:
            return high
        value = math.exp(log_low + (log_high - log_low) * step / _GRID)
        return min(max(_round_significant(value, digits), low), high)

    return st.integers(0, _GRID).map(build)
