"""Directed rounding of exact rationals to float64 and to gmpy2 ``mpfr``.

The certified engines start from outward-rounded enclosures of exact inputs:
``0.1`` has no binary representation, so the engines propagate
``[round_down(1/10), round_up(1/10)]``.

>>> from fractions import Fraction
>>> lo, hi = float_enclosure(Fraction(1, 10))
>>> lo < Fraction(1, 10) < hi, hi == __import__("math").nextafter(lo, 1.0)
(True, True)
>>> float_enclosure(Fraction(1, 4))
(0.25, 0.25)
"""

from __future__ import annotations

import math
from fractions import Fraction

import gmpy2

__all__ = ["float_down", "float_up", "float_enclosure", "mpfr_down", "mpfr_up", "to_fraction_exact"]


def float_down(value: Fraction) -> float:
    """Return the largest float64 that is ``<= value``."""
    nearest = float(value)
    if Fraction(nearest) > value:
        nearest = math.nextafter(nearest, -math.inf)
    return nearest


def float_up(value: Fraction) -> float:
    """Return the smallest float64 that is ``>= value``."""
    nearest = float(value)
    if Fraction(nearest) < value:
        nearest = math.nextafter(nearest, math.inf)
    return nearest


def float_enclosure(value: Fraction) -> tuple[float, float]:
    """Return ``(float_down(value), float_up(value))``; equal when ``value`` is a float."""
    return float_down(value), float_up(value)


def mpfr_down(value: Fraction, bits: int) -> gmpy2.mpfr:
    """Return ``value`` rounded towards minus infinity to ``bits`` bits."""
    with gmpy2.context(precision=bits, round=gmpy2.RoundDown):
        return gmpy2.mpfr(gmpy2.mpq(value.numerator, value.denominator))


def mpfr_up(value: Fraction, bits: int) -> gmpy2.mpfr:
    """Return ``value`` rounded towards plus infinity to ``bits`` bits."""
    with gmpy2.context(precision=bits, round=gmpy2.RoundUp):
        return gmpy2.mpfr(gmpy2.mpq(value.numerator, value.denominator))


def to_fraction_exact(value) -> Fraction:
    """Convert a float, ``mpfr`` or ``mpf`` exactly to a Fraction."""
    if isinstance(value, float):
        return Fraction(value)
    if hasattr(value, "_mpf_"):
        # mpf.man_exp drops the sign, so read the raw (sign, mantissa, exponent, bits) tuple.
        sign, mantissa, exponent, _ = value._mpf_
        if not mantissa and exponent:
            raise ValueError(f"cannot convert the non-finite value {value} to a fraction")
        magnitude = Fraction(int(mantissa)) * Fraction(2) ** int(exponent)
        return -magnitude if sign else magnitude
    if hasattr(value, "as_integer_ratio"):
        numerator, denominator = value.as_integer_ratio()
        return Fraction(int(numerator), int(denominator))
    raise TypeError(f"cannot convert {type(value).__name__} to a fraction")
