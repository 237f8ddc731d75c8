r"""Scalar dynamics of one eigenvalue and the step-size quantities.

With the aligned initialisation ``W_j(0) = alpha I``, gradient descent on deep
matrix factorization reduces to one scalar recurrence per eigenvalue ``mu`` of
the target,

.. math::

    x_{k+1} = f(x_k) = x_k + \eta\, h(x_k), \qquad
    h(x) = x^{N-1} (\mu - x^N), \qquad x_0 = \alpha,

and the product eigenvalue is ``p_k = x_k^N``.  This module evaluates ``h``,
``f``, the level ``v*(mu)`` where ``h`` peaks and the step-size number

.. math::

    S(\mu) = \eta N \mu^{2 - 2/N},

which decides the regime: for ``S(mu) <= 1`` and ``0 < alpha^N < mu`` the
iterates increase strictly to ``mu^(1/N)`` without passing it, the fixed point
attracts iff ``S(mu) < 2``, and the product error contracts by the factor
``1 - S(mu)`` per step near the fixed point.

Every function works in mpmath at the caller's current precision (``mp.dps``).
Arguments may be ``int``, ``str`` (read as an exact decimal or fraction),
:class:`fractions.Fraction`, ``float`` (taken at its exact binary value) or
``mpmath.mpf``.  The computation carries ``GUARD_DIGITS`` extra digits, and the
result is rounded to the caller's precision.

>>> from mpmath import mp
>>> with mp.workdps(20):
...     print(step_size_number("1", "0.05", 3), peak_level(1, 3))
0.15 0.4
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
from mpmath import mp
from mpmath.libmp import from_rational, mpf_pos, mpf_shift, mpf_sub, round_down, round_nearest

from dmfverify.errors import InvalidArgument
from dmfverify.validation import check_depth, to_fraction

__all__ = [
    "step_size_number",
    "max_step_size",
    "peak_level",
    "speed",
    "update",
]

#: Decimal digits added to the caller's precision inside every evaluation, so
#: that a few rounding errors in the intermediate steps do not reach the result.
GUARD_DIGITS = 10

#: Input types the numeric arguments accept.
RealLike = int | float | str | Fraction | mpmath.mpf


def _exact(name: str, value: Any) -> Fraction:
    """Convert an argument to its exact rational value, raising InvalidArgument for NaN, infinity or non-numbers.

    Domain checks compare these exact values, so a threshold written ``"0.001"``
    equals ``alpha^N`` for ``alpha = "0.1"`` and ``N = 3`` whatever the precision.
    """
    return to_fraction(name, value)


def _to_mpf(value: Fraction) -> mpmath.mpf:
    """Round an exact rational ``p / q`` to the nearest number at the current mpmath precision.

    One correctly rounded conversion, which is at least as accurate as ``mpf(p) / q``.
    """
    return mpmath.mpf(from_rational(value.numerator, value.denominator, mp.prec, round_nearest))


def _show(value: Fraction) -> str:
    """Format an exact value for an error message, as a user would have typed it."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.12g}"


def _check_positive(name: str, value: Any) -> Fraction:
    """Return the exact value of a finite argument that must be > 0."""
    number = _exact(name, value)
    if number <= 0:
        raise InvalidArgument(
            f"{name} = {_show(number)} is invalid: it must be a finite number > 0; pass a positive value."
        )
    return number


def _digits_of_ratio(numerator: Fraction, denominator: Fraction) -> int:
    """Return about ``log10(numerator / denominator)`` for positive values, or 0 when the ratio is below 1.

    Integer bit lengths give the estimate without converting to float, so a ratio
    such as ``1e400`` does not overflow.
    """
    ratio = numerator / denominator
    if ratio <= 1:
        return 0

    bits = ratio.numerator.bit_length() - ratio.denominator.bit_length() + 1
    return int(bits * 0.30103) + 1


def _step_size_number_power(mu: Fraction, eta: Fraction, depth: int) -> Fraction:
    r"""Return ``S(mu)^N = (eta N)^N mu^(2N-2)`` exactly.

    ``S(mu)`` is irrational in general but its ``N``-th power is rational, so the
    hypothesis ``S(mu) <= 1`` is decided exactly and ``1 - S(mu)^N`` has no rounding error.
    """
    return (eta * depth) ** depth * mu ** (2 * depth - 2)


def _mu_power(mu: mpmath.mpf, depth: int) -> mpmath.mpf:
    """Return ``mu^(2 - 2/N)`` for ``mu >= 0`` at the current precision."""
    if mu == 0:
        return mpmath.mpf(0)
    return mu ** (mpmath.mpf(2 * depth - 2) / depth)


def step_size_number(mu: RealLike, eta: RealLike, depth: int) -> mpmath.mpf:
    r"""Compute the step-size number ``S(mu) = eta N mu^(2 - 2/N)``.

    ``S(mu)`` is the derivative gap ``1 - f'(mu^(1/N))`` of the scalar update at
    its fixed point: ``S(mu) <= 1`` keeps the iterates monotone (they increase
    to ``mu^(1/N)`` and never pass it), ``1 < S(mu) < 2`` gives an oscillating
    approach, and for ``S(mu) >= 2`` the fixed point repels.

    Parameters
    ----------
    mu : int, float, str, Fraction or mpf
        Eigenvalue of the target, ``mu >= 0``.
    eta : int, float, str, Fraction or mpf
        Step size, ``eta > 0``.
    depth : int
        Number of factors ``N >= 2``.

    Returns
    -------
    mpf
        ``S(mu)`` at the caller's precision.

    Raises
    ------
    InvalidArgument
        If ``mu < 0``, ``eta <= 0``, ``depth < 2`` or a value is not a finite number.

    Examples
    --------
    >>> print(step_size_number(1, "0.1", 2))
    0.2
    >>> print(step_size_number(2, "0.01", 5))
    0.15157165665104
    """
    depth = check_depth(depth)
    eta_exact = _check_positive("eta", eta)
    mu_exact = _exact("mu", mu)
    if mu_exact < 0:
        raise InvalidArgument(
            f"mu = {_show(mu_exact)} is invalid: the step-size number is defined for mu >= 0; "
            f"pass the eigenvalue's absolute value or use the conditions for negative eigenvalues."
        )

    with mp.workdps(mp.dps + GUARD_DIGITS):
        value = _to_mpf(eta_exact) * depth * _mu_power(_to_mpf(mu_exact), depth)

    return +value


def max_step_size(mu: RealLike, depth: int, S: RealLike = 1) -> mpmath.mpf:
    r"""Compute the step size ``eta`` at which ``S(mu)`` equals ``S``: ``eta = S / (N mu^(2 - 2/N))``.

    With the default ``S = 1`` this is the largest step size of the monotone
    regime for the eigenvalue ``mu``, and ``S = 2`` gives the local stability limit.

    Parameters
    ----------
    mu : int, float, str, Fraction or mpf
        Eigenvalue of the target, ``mu > 0``.
    depth : int
        Number of factors ``N >= 2``.
    S : int, float, str, Fraction or mpf, optional
        Target step-size number, ``S > 0``.

    Returns
    -------
    mpf
        The step size at the caller's precision, rounded down so that the returned
        ``eta`` satisfies ``eta N mu^(2 - 2/N) <= S`` exactly.  A value rounded to
        nearest could exceed ``S`` by one rounding error and fail the hypothesis
        ``S(mu) <= 1`` of the hitting-time bracket.

    Raises
    ------
    InvalidArgument
        If ``mu <= 0``, ``S <= 0``, ``depth < 2`` or a value is not a finite number.

    Examples
    --------
    >>> print(max_step_size(1, 3))
    0.333333333333333
    >>> print(max_step_size(4, 2, S=2))
    0.25
    """
    depth = check_depth(depth)
    mu_exact = _check_positive("mu", mu)
    target = _check_positive("S", S)

    with mp.workdps(mp.dps + GUARD_DIGITS):
        accurate = _to_mpf(target) / (depth * _mu_power(_to_mpf(mu_exact), depth))

    # Round down, then step down by one unit in the last place until the exact
    # test (eta N)^N mu^(2N-2) <= S^N passes.  The guard digits make a step rare.
    value = mpmath.mpf(mpf_pos(accurate._mpf_, mp.prec, round_down))
    while _step_size_number_power(mu_exact, to_fraction("eta", value), depth) > target**depth:
        value = mpmath.mpf(mpf_sub(value._mpf_, mpf_shift(value._mpf_, -mp.prec), mp.prec, round_down))

    return value


def peak_level(mu: RealLike, depth: int) -> mpmath.mpf:
    r"""Compute ``v*(mu) = (N - 1) mu / (2N - 1)``, the product level where the speed ``h`` peaks.

    ``h(x) = x^(N-1) (mu - x^N)`` increases on ``x^N <= v*(mu)`` and decreases
    after, so ``v*`` separates the rising and the saturating part of the dynamics.

    Parameters
    ----------
    mu : int, float, str, Fraction or mpf
        Eigenvalue of the target, ``mu > 0``.
    depth : int
        Number of factors ``N >= 2``.

    Returns
    -------
    mpf
        ``v*(mu)`` at the caller's precision.

    Examples
    --------
    >>> print(peak_level(1, 2))
    0.333333333333333
    >>> print(peak_level("4.5", 5))
    2.0
    """
    depth = check_depth(depth)
    mu_exact = _check_positive("mu", mu)

    return _to_mpf(mu_exact * (depth - 1) / (2 * depth - 1))


def speed(x: RealLike, mu: RealLike, depth: int) -> mpmath.mpf:
    r"""Evaluate the speed ``h(x) = x^(N-1) (mu - x^N)`` of the scalar dynamics.

    One gradient step moves ``x`` by ``eta h(x)``, and the potential ``Phi`` is the
    integral of ``1 / h``.

    Parameters
    ----------
    x : int, float, str, Fraction or mpf
        Factor value (any finite real).
    mu : int, float, str, Fraction or mpf
        Eigenvalue of the target (any finite real).
    depth : int
        Number of factors ``N >= 2``.

    Returns
    -------
    mpf
        ``h(x)`` at the caller's precision.

    Examples
    --------
    >>> print(speed("0.5", 1, 2))
    0.375
    """
    depth = check_depth(depth)
    x_exact = _exact("x", x)
    mu_exact = _exact("mu", mu)

    # The speed is a polynomial with rational coefficients, so it is computed
    # exactly and rounded once.
    return _to_mpf(x_exact ** (depth - 1) * (mu_exact - x_exact**depth))


def update(x: RealLike, mu: RealLike, eta: RealLike, depth: int) -> mpmath.mpf:
    r"""Apply one gradient-descent step ``f(x) = x + eta x^(N-1) (mu - x^N)``.

    Parameters
    ----------
    x : int, float, str, Fraction or mpf
        Current factor value (any finite real).
    mu : int, float, str, Fraction or mpf
        Eigenvalue of the target (any finite real).
    eta : int, float, str, Fraction or mpf
        Step size, ``eta > 0``.
    depth : int
        Number of factors ``N >= 2``.

    Returns
    -------
    mpf
        ``f(x)``, rounded once to the caller's precision.

    Notes
    -----
    The step is computed exactly in rational arithmetic and rounded once.  This
    makes it a reference for one step, not a fast simulator, because every call
    multiplies integers of about ``N`` times the working precision.

    Examples
    --------
    >>> print(update("0.1", 1, "0.1", 2))
    0.1099
    """
    depth = check_depth(depth)
    x_exact = _exact("x", x)
    mu_exact = _exact("mu", mu)
    eta_exact = _check_positive("eta", eta)

    value = x_exact + eta_exact * x_exact ** (depth - 1) * (mu_exact - x_exact**depth)
    return _to_mpf(value)


# Helpers of the hitting-time bracket and of its estimate.  They take exact
# arguments that the caller has validated and work at the current precision.


def _log_ratio(numerator: Fraction, denominator: Fraction) -> mpmath.mpf:
    """Return ``ln(numerator / denominator)`` of an exact ratio, through ``log1p`` so a ratio near 1 keeps its digits."""
    return mpmath.log1p(_to_mpf(numerator / denominator - 1))


def _log_speed_ratio(level: Fraction, reference: Fraction, mu: Fraction, depth: int) -> mpmath.mpf:
    r"""Return ``ln(h(level^(1/N)) / h(reference^(1/N)))`` for levels in ``(0, mu)``.

    ``h(x) = x^(N-1) (mu - x^N)``, so the ratio is the product of the exact
    rationals ``(level / reference)^((N-1)/N)`` and ``(mu - level) / (mu - reference)``.
    """
    rising = mpmath.mpf(depth - 1) / depth * _log_ratio(level, reference)
    return rising + _log_ratio(mu - level, mu - reference)


def _log_inverse_contraction(mu: Fraction, eta: Fraction, depth: int) -> mpmath.mpf | None:
    r"""Return ``ln(1/q)`` with ``q = 1 - S(mu)`` for ``S(mu) <= 1``, or None when ``S(mu) = 1``.

    ``q = 1 - (1 - D)^(1/N)`` with the exact ``D = 1 - S(mu)^N``, evaluated as
    ``-expm1(log1p(-D) / N)``, so ``q`` has full relative precision even when
    ``S(mu)`` is within a rounding error of 1.  For ``S(mu)^N <= 1/2`` the value
    is ``-log1p(-S(mu))`` with ``S(mu) = exp(ln(S(mu)^N) / N)``: ``D`` would round
    to 1 when ``S(mu)^N`` is below the working precision (deep factorizations
    with a small step), and ``ln(1/q)`` would come out 0 instead of about ``S(mu)``.

    >>> from fractions import Fraction
    >>> print(mpmath.nstr(_log_inverse_contraction(Fraction(1), Fraction(1, 20000), 50), 6))
    0.00250313
    """
    power = _step_size_number_power(mu, eta, depth)
    if power == 1:
        return None

    if power <= Fraction(1, 2):
        step_size_number = mpmath.exp((mpmath.log(power.numerator) - mpmath.log(power.denominator)) / depth)
        return -mpmath.log1p(-step_size_number)
    q = -mpmath.expm1(mpmath.log1p(-_to_mpf(1 - power)) / depth)
    return -mpmath.log(q)


def _geometric_sum(fixed_point: mpmath.mpf, x: mpmath.mpf, depth: int) -> mpmath.mpf:
    """Return ``sum_{j=0}^{N-1} c^j x^(N-1-j)``, which equals ``(c^N - x^N) / (c - x)`` without cancellation."""
    return mpmath.fsum(fixed_point**j * x ** (depth - 1 - j) for j in range(depth))


def _estimate_saturating_steps(start: Fraction, level: Fraction, mu: Fraction, eta: Fraction, depth: int) -> mpmath.mpf:
    r"""Estimate the steps from product level ``start >= v*`` to ``level < mu`` by geometric convergence at the local ratio.

    Past ``x* = v*^(1/N)`` one step multiplies the distance ``e = c - x`` to the
    fixed point ``c = mu^(1/N)`` by ``r(x) = 1 - eta g(x)``, where
    ``g(x) = h(x) / e = x^(N-1) sum_j c^j x^(N-1-j)``.  Since ``g`` increases,
    ``r`` decreases along the path, down to ``1 - S(mu)`` at ``c``.  Counting
    ``1 / ln(1/r)`` steps per unit of ``ln(1/e)`` gives ``int_0^L dt / -ln(r(x(t)))``
    with ``x(t) = c - e_0 exp(-t)``.  When ``S(mu) > 1`` the ratio reaches 0 before
    ``level``, so the count stops there and adds the one step that overshoots ``level``.
    """
    mu_value = _to_mpf(mu)
    eta_value = _to_mpf(eta)
    fixed_point = mpmath.root(mu_value, depth)

    def distance(product: Fraction) -> mpmath.mpf:
        x = mpmath.root(_to_mpf(product), depth)
        return _to_mpf(mu - product) / _geometric_sum(fixed_point, x, depth)

    start_distance = distance(start)
    length = mpmath.log(start_distance / distance(level))

    def step_fraction(t: mpmath.mpf) -> mpmath.mpf:
        # eta g(x(t)) = 1 - r(x(t)): the fraction of the distance that one step covers.
        x = fixed_point - start_distance * mpmath.exp(-t)
        return eta_value * x ** (depth - 1) * _geometric_sum(fixed_point, x, depth)

    if step_fraction(0) >= 1:
        return mpmath.mpf(1)

    overshoot = 0
    if step_fraction(length) >= 1:
        length = mpmath.findroot(lambda t: step_fraction(t) - 1, (mpmath.mpf(0), length), solver="anderson")
        overshoot = 1

    # The integrand changes on the scale t ~ 1, so the breakpoints 0, 1, 3, 7, ... double their spacing.
    points = [mpmath.mpf(0)]
    while 2 * points[-1] + 1 < length:
        points.append(2 * points[-1] + 1)
    points.append(length)

    steps = mpmath.quad(lambda t: -1 / mpmath.log1p(-step_fraction(t)), points)
    return steps + overshoot
