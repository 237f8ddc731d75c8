r"""The potential ``Phi`` of one eigenvalue and its elementary bracket.

For an eigenvalue ``mu > 0``, depth ``N >= 2`` and initial scale ``alpha`` with
``alpha^N <= v < mu``, the potential is the continuous-time travel time of the
product from ``alpha^N`` to ``v``:

.. math::

    \Phi_\mu(v) = \int_{\alpha^N}^{v} \frac{ds}{N s^{2-2/N} (\mu - s)}
                = \int_{\alpha}^{v^{1/N}} \frac{dx}{h(x)},
    \qquad h(x) = x^{N-1} (\mu - x^N).

Gradient descent with step size ``eta`` needs about ``Phi_mu(u) / eta`` steps to
bring the product ``p_k = x_k^N`` to a level ``u``; the two-sided bracket of the
hitting time built on ``Phi`` is in :mod:`dmfverify.hitting_time`.

All values are mpmath numbers at the caller's precision (``mp.dps``), computed
with guard digits inside.  Domain conditions are decided in exact rational
arithmetic on the arguments, so a level written ``"0.001"`` counts as equal to
``alpha^N`` for ``alpha = "0.1"``, ``N = 3`` at every precision.

>>> from mpmath import mp
>>> with mp.workdps(30):
...     print(potential("0.3", 1, "0.1", 3))
8.75864212792175389030557800966
"""

from __future__ import annotations

import logging
import warnings
from fractions import Fraction
from typing import Any

import mpmath
from mpmath import mp

from dmfverify.errors import InvalidArgument, NumericalWarning
from dmfverify.step_size import (
    GUARD_DIGITS,
    RealLike,
    _check_positive,
    _digits_of_ratio,
    _exact,
    _show,
    _to_mpf,
)
from dmfverify.validation import check_depth

__all__ = ["POTENTIAL_METHODS", "potential", "elementary_bracket"]

logger = logging.getLogger(__name__)

#: Ways :func:`potential` can evaluate ``Phi``.
POTENTIAL_METHODS = ("closed_form", "quadrature")

#: Ratio between neighbouring split points of the quadrature, in ``x`` near 0
#: and in the distance ``mu^(1/N) - x`` near the fixed point.
_QUADRATURE_SPLIT_RATIO = 4

#: Precision raises tried when ``G(v) - G(alpha^N)`` cancels more than expected.
_MAX_PRECISION_RAISES = 3


def _check_potential_domain(v: Any, mu: Any, alpha: Any, depth: Any) -> tuple[Fraction, Fraction, Fraction, int]:
    """Validate ``mu > 0``, ``alpha > 0`` and ``alpha^N <= v < mu``, returning exact values."""
    depth = check_depth(depth)
    mu_exact = _check_positive("mu", mu)
    alpha_exact = _check_positive("alpha", alpha)
    v_exact = _exact("v", v)
    start = alpha_exact**depth

    if start >= mu_exact:
        raise InvalidArgument(
            f"alpha = {_show(alpha_exact)} is invalid for mu = {_show(mu_exact)}: alpha^N = {_show(start)} must be below mu "
            f"for the potential to exist (the product then decreases instead of rising); pass a smaller alpha."
        )
    if v_exact < start:
        raise InvalidArgument(
            f"v = {_show(v_exact)} is invalid: the potential starts at alpha^N = {_show(start)} and needs v >= alpha^N; "
            f"pass a level between alpha^N and mu."
        )
    if v_exact >= mu_exact:
        raise InvalidArgument(
            f"v = {_show(v_exact)} is invalid: the potential diverges at mu = {_show(mu_exact)} and needs v < mu; "
            f"pass a level below mu."
        )

    return v_exact, mu_exact, alpha_exact, depth


def _antiderivative(s: mpmath.mpf, mu: mpmath.mpf, exponent: mpmath.mpf) -> mpmath.mpf:
    r"""Evaluate ``G(s) = s^a / a * 2F1(1, a; a + 1; s / mu)`` with ``a = exponent``.

    ``G'(s) = s^(a-1) / (1 - s/mu)``, so for ``a = (2 - N)/N`` the potential is
    ``(G(v) - G(alpha^N)) / (N mu)``.
    """
    return s**exponent / exponent * mpmath.hyp2f1(1, exponent, exponent + 1, s / mu)


def _closed_form_depth2(v: Fraction, mu: Fraction, start: Fraction) -> mpmath.mpf:
    r"""Evaluate ``Phi`` for ``N = 2`` as ``log1p(mu (v - alpha^2) / (alpha^2 (mu - v))) / (2 mu)``.

    This is ``ln(v (mu - alpha^2) / (alpha^2 (mu - v))) / (2 mu)`` with the argument
    of the logarithm minus one formed exactly, so nothing cancels.
    """
    argument = mu * (v - start) / (start * (mu - v))
    return mpmath.log1p(_to_mpf(argument)) / (2 * _to_mpf(mu))


def _closed_form_hypergeometric(v: Fraction, mu: Fraction, start: Fraction, depth: int) -> mpmath.mpf:
    r"""Evaluate ``Phi = (G(v) - G(alpha^N)) / (N mu)`` for ``N >= 3`` at the current precision.

    Two effects cost digits, and both get extra working digits.  Near ``v -> mu``,
    ``2F1`` has a logarithmic singularity at ``z = v/mu = 1`` and rounding ``z`` to
    ``P`` digits leaves ``1 - z`` with about ``P - log10(mu / (mu - v))`` digits.
    Near ``v -> alpha^N``, ``G(v)`` and ``G(alpha^N)`` nearly cancel.  For tiny
    ``alpha``, ``|G(alpha^N)| ~ N alpha^(2-N) / (N - 2)`` dominates and ``Phi`` is of
    the same size, so this subtraction loses nothing.  A caller who subtracts two
    potentials at nearby levels does lose digits relative to ``alpha^(2-N)``.  The
    loss is measured after the subtraction, and the evaluation is repeated with
    more digits when it exceeds the guard.
    """
    target_dps = mp.dps
    near_mu = _digits_of_ratio(mu, mu - v)
    extra = _digits_of_ratio(start, v - start)

    for _ in range(_MAX_PRECISION_RAISES + 1):
        working_dps = target_dps + GUARD_DIGITS + near_mu + extra
        with mp.workdps(working_dps):
            exponent = mpmath.mpf(2 - depth) / depth
            mu_value = _to_mpf(mu)
            g_end = _antiderivative(_to_mpf(v), mu_value, exponent)
            g_start = _antiderivative(_to_mpf(start), mu_value, exponent)
            difference = g_end - g_start

            scale = max(abs(g_end), abs(g_start))
            if difference == 0:
                lost = working_dps
            else:
                lost = max(0, int(mpmath.ceil(mpmath.log10(scale / abs(difference)))))

            # The difference keeps about working_dps - near_mu - lost digits.
            if working_dps - near_mu - lost >= target_dps + GUARD_DIGITS // 2:
                return difference / (depth * mu_value)

        logger.debug("G(v) - G(alpha^N) lost %d of %d digits; raising the working precision", lost, working_dps)
        extra = lost + GUARD_DIGITS

    warnings.warn(
        f"the potential at v = {_show(v)} lost {lost} of {working_dps} digits to cancellation between G(v) and G(alpha^N); "
        f"the result may have fewer than {target_dps} correct digits, so check it with method='quadrature'.",
        NumericalWarning,
        stacklevel=3,
    )
    with mp.workdps(working_dps):
        return difference / (depth * mu_value)


def _split_points(start: mpmath.mpf, end: mpmath.mpf, fixed_point: mpmath.mpf) -> list[mpmath.mpf]:
    """Return quadrature breakpoints from ``start`` to ``end`` that follow the scales of ``1/h``.

    ``1/h(x)`` behaves like ``x^(1-N)`` near 0 and like ``1/(mu^(1/N) - x)`` near the
    fixed point, so the points grow geometrically from ``start`` up to half the
    fixed point and then halve the distance to the fixed point geometrically.
    """
    ratio = _QUADRATURE_SPLIT_RATIO
    middle = min(end, max(start, fixed_point / 2))

    points = [start]
    x = start * ratio
    while x < middle:
        points.append(x)
        x *= ratio
    if middle > points[-1]:
        points.append(middle)

    gap = (fixed_point - middle) / ratio
    while fixed_point - gap < end:
        points.append(fixed_point - gap)
        gap /= ratio
    if end > points[-1]:
        points.append(end)

    return points


def _quadrature(v: Fraction, mu: Fraction, alpha: Fraction, depth: int) -> mpmath.mpf:
    r"""Evaluate ``Phi`` as ``int_alpha^(v^(1/N)) dx / h(x)`` with tanh-sinh quadrature.

    Each piece between breakpoints is integrated separately after dividing the
    integrand by its size on that piece, because mpmath's error control is
    absolute and the pieces differ by many orders of magnitude for small ``alpha``.
    Extra working digits cover the cancellation in ``mu - x^N`` near ``v -> mu``, and
    the short interval ``[alpha, v^(1/N)]`` near ``v -> alpha^N``.
    """
    target_dps = mp.dps
    start = alpha**depth
    extra = _digits_of_ratio(mu, mu - v) + _digits_of_ratio(start, v - start)
    working_dps = target_dps + GUARD_DIGITS + extra

    with mp.workdps(working_dps):
        mu_value = _to_mpf(mu)
        fixed_point = mpmath.root(mu_value, depth)
        end = mpmath.root(_to_mpf(v), depth)

        def inverse_speed(x: mpmath.mpf) -> mpmath.mpf:
            return 1 / (x ** (depth - 1) * (mu_value - x**depth))

        points = _split_points(_to_mpf(alpha), end, fixed_point)
        total = mpmath.mpf(0)
        total_error = mpmath.mpf(0)
        for left, right in zip(points[:-1], points[1:]):
            scale = inverse_speed(left) * (right - left)
            piece, error = mpmath.quad(lambda x: inverse_speed(x) / scale, [left, right], error=True)
            total += piece * scale
            total_error += error * scale

    if total_error > abs(total) * mpmath.mpf(10) ** (-target_dps):
        warnings.warn(
            f"the quadrature of the potential at v = {_show(v)} has estimated relative error "
            f"{mpmath.nstr(total_error / total, 3)}, above the requested {target_dps} digits; "
            f"compare it with method='closed_form'.",
            NumericalWarning,
            stacklevel=3,
        )

    return total


def _potential_exact(v: Fraction, mu: Fraction, alpha: Fraction, depth: int, method: str = "closed_form") -> mpmath.mpf:
    """Evaluate ``Phi_mu(v)`` from validated exact arguments, with about ``mp.dps`` correct digits."""
    start = alpha**depth
    if v == start:
        return mpmath.mpf(0)

    if method == "quadrature":
        return _quadrature(v, mu, alpha, depth)

    if depth == 2:
        with mp.workdps(mp.dps + GUARD_DIGITS):
            return _closed_form_depth2(v, mu, start)
    return _closed_form_hypergeometric(v, mu, start, depth)


def potential(v: RealLike, mu: RealLike, alpha: RealLike, depth: int, method: str = "closed_form") -> mpmath.mpf:
    r"""Compute the potential ``Phi_mu(v) = int_{alpha^N}^v ds / (N s^(2-2/N) (mu - s))``.

    ``Phi_mu(v) / eta`` approximates the number of gradient-descent steps the
    product ``x_k^N`` needs to rise from ``alpha^N`` to ``v``: it is a lower bound
    on the hitting time while the speed ``h`` increases.

    Parameters
    ----------
    v : int, float, str, Fraction or mpf
        Product level, ``alpha^N <= v < mu``.
    mu : int, float, str, Fraction or mpf
        Eigenvalue of the target, ``mu > 0``.
    alpha : int, float, str, Fraction or mpf
        Initial scale of every factor, ``alpha > 0`` with ``alpha^N < mu``.
    depth : int
        Number of factors ``N >= 2``.
    method : {"closed_form", "quadrature"}, optional
        ``"closed_form"`` (default) uses the formulas below.  ``"quadrature"``
        integrates ``dx / h(x)`` from ``alpha`` to ``v^(1/N)`` with tanh-sinh
        quadrature, split geometrically towards 0 and towards ``mu^(1/N)``.  It is
        slower and serves as an independent check.

    Returns
    -------
    mpf
        ``Phi_mu(v) >= 0`` at the caller's precision.

    Raises
    ------
    InvalidArgument
        If ``mu <= 0``, ``alpha <= 0``, ``alpha^N >= mu``, ``v`` is outside
        ``[alpha^N, mu)``, ``depth < 2`` or ``method`` is unknown.

    Warns
    -----
    NumericalWarning
        If cancellation or the quadrature error estimate leaves fewer digits than
        the caller's precision.

    Notes
    -----
    For ``N = 2``,
    ``Phi_mu(v) = ln(v (mu - alpha^2) / (alpha^2 (mu - v))) / (2 mu)``.
    For ``N >= 3``, with ``a = (2 - N)/N`` and
    ``G(s) = s^a / a * 2F1(1, a; a + 1; s/mu)``,
    ``Phi_mu(v) = (G(v) - G(alpha^N)) / (N mu)``.

    Extra working digits make up for the digits of ``1 - v/mu`` lost near the
    logarithmic singularity of ``2F1`` at ``v = mu`` and for cancellation in
    ``G(v) - G(alpha^N)`` near ``v = alpha^N``.  For small ``alpha``,
    ``Phi_mu(v) ~ alpha^(2-N) / ((N - 2) mu)`` if ``N >= 3`` and
    ``Phi_mu(v) ~ ln(1/alpha) / mu`` if ``N = 2``.

    Examples
    --------
    Depth 3, ``mu = 1``, ``alpha = 0.1``: about ``8.76 / eta`` steps take the product
    from ``0.001`` to ``0.3``, and the quadrature agrees.

    >>> print(potential("0.3", 1, "0.1", 3))
    8.75864212792175
    >>> print(potential("0.3", 1, "0.1", 3, method="quadrature"))
    8.75864212792175

    The potential blows up only logarithmically as ``v -> mu``:

    >>> print(potential("0.999999", 1, "0.1", 3))
    13.8471739905875
    """
    v_exact, mu_exact, alpha_exact, depth = _check_potential_domain(v, mu, alpha, depth)
    if method not in POTENTIAL_METHODS:
        raise InvalidArgument(
            f"method = {method!r} is invalid: it must be one of {', '.join(POTENTIAL_METHODS)}; pass method='closed_form'."
        )

    value = _potential_exact(v_exact, mu_exact, alpha_exact, depth, method)

    return max(+value, mpmath.mpf(0))


def elementary_bracket(v: RealLike, alpha: RealLike, depth: int) -> mpmath.mpf:
    r"""Compute the elementary bracket ``J(v) = int_{alpha^N}^v ds / (N s^(2-2/N))`` of the potential.

    ``J(v) = (alpha^(2-N) - v^((2-N)/N)) / (N - 2)`` for ``N >= 3`` and
    ``J(v) = ln(v / alpha^2) / 2`` for ``N = 2``.  Since ``mu - v <= mu - s <= mu``
    on the path of integration, ``J(v) / mu <= Phi_mu(v) <= J(v) / (mu - v)`` for
    ``alpha^N <= v < mu``.

    Parameters
    ----------
    v : int, float, str, Fraction or mpf
        Product level, ``v > 0``.  ``J`` is the signed integral, so it is negative
        for ``v < alpha^N``.
    alpha : int, float, str, Fraction or mpf
        Initial scale, ``alpha > 0``.
    depth : int
        Number of factors ``N >= 2``.

    Returns
    -------
    mpf
        ``J(v)`` at the caller's precision.

    Notes
    -----
    Both forms are evaluated as ``alpha^(2-N) * (-expm1(a ln(v / alpha^N))) / (N - 2)``
    with ``a = (2 - N)/N`` (and ``ln(v / alpha^2) / 2``), the logarithm taken as
    ``log1p`` of the exact ``(v - alpha^N) / alpha^N``, so ``J`` keeps full relative
    precision when ``v`` is close to ``alpha^N``.

    Examples
    --------
    >>> print(elementary_bracket("0.3", "0.1", 3))
    8.50619841781428
    >>> print(elementary_bracket("0.5", "0.1", 2))
    1.95601150271407
    """
    depth = check_depth(depth)
    alpha_exact = _check_positive("alpha", alpha)
    v_exact = _check_positive("v", v)
    start = alpha_exact**depth

    with mp.workdps(mp.dps + GUARD_DIGITS):
        log_ratio = mpmath.log1p(_to_mpf((v_exact - start) / start))
        if depth == 2:
            value = log_ratio / 2
        else:
            exponent = mpmath.mpf(2 - depth) / depth
            value = -_to_mpf(alpha_exact) ** (2 - depth) * mpmath.expm1(exponent * log_ratio) / (depth - 2)

    return +value
