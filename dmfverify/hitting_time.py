r"""The hitting-time bracket of one eigenvalue, and a cheap estimate of the hitting time.

Gradient descent from ``x_0 = alpha`` with step size ``eta`` first brings the
product ``p_k = x_k^N`` to a level ``u`` at the hitting time
``T_mu(u) = min{k : x_k^N >= u}``.  When ``mu > 0``, ``alpha^N < u < mu`` and
``S(mu) = eta N mu^(2-2/N) <= 1``, it is bracketed by
``Hlower(u) <= T_mu(u) <= Hupper(u)``, two expressions in the potential
``Phi_mu`` of :mod:`dmfverify.potential`: :func:`hitting_time_lower`,
:func:`hitting_time_upper`, or both at once with :func:`hitting_time_bracket`.
:func:`estimate_hitting_time` sizes a run before it starts; it is not a bound.

All values are mpmath numbers at the caller's precision (``mp.dps``), computed
with guard digits inside.  Hypotheses and branch conditions are decided in
exact rational arithmetic on the arguments.

>>> from mpmath import mp
>>> with mp.workdps(20):
...     bracket = hitting_time_bracket("0.9", 1, "0.1", "0.05", 3)
...     print(bracket.lower, bracket.upper)
189.38830514204805256 204.73021394815017956
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
from mpmath import mp

from dmfverify.errors import InvalidArgument
from dmfverify.potential import _potential_exact
from dmfverify.step_size import (
    GUARD_DIGITS,
    RealLike,
    _check_positive,
    _estimate_saturating_steps,
    _exact,
    _log_inverse_contraction,
    _log_ratio,
    _log_speed_ratio,
    _show,
    _step_size_number_power,
    _to_mpf,
)
from dmfverify.validation import check_depth

__all__ = [
    "hitting_time_lower",
    "hitting_time_upper",
    "HittingTimeBracket",
    "hitting_time_bracket",
    "estimate_hitting_time",
]

#: Decimal digits used by :func:`estimate_hitting_time`, which only has to be
#: good enough to size a run.
ESTIMATE_DIGITS = 20


@dataclass(frozen=True)
class _BracketInputs:
    """Exact, validated arguments of the hitting-time bracket."""

    u: Fraction
    mu: Fraction
    alpha: Fraction
    eta: Fraction
    depth: int
    at_edge: bool = False

    @property
    def start(self) -> Fraction:
        """Initial product level ``alpha^N``."""
        return self.alpha**self.depth

    @property
    def peak(self) -> Fraction:
        """Level ``v* = (N - 1) mu / (2N - 1)`` where the speed ``h`` peaks."""
        return self.mu * (self.depth - 1) / (2 * self.depth - 1)

    @property
    def saturation_start(self) -> Fraction:
        """Level ``max(v*, alpha^N)`` from which the saturating part is counted."""
        return max(self.peak, self.start)


def _check_bracket_hypotheses(u: Any, mu: Any, alpha: Any, eta: Any, depth: Any) -> _BracketInputs:
    """Validate ``mu > 0``, ``alpha^N < u < mu`` and ``S(mu) <= 1`` in exact arithmetic."""
    depth = check_depth(depth)
    mu_exact = _check_positive("mu", mu)
    alpha_exact = _check_positive("alpha", alpha)
    eta_exact = _check_positive("eta", eta)
    u_exact = _exact("u", u)
    start = alpha_exact**depth

    if u_exact <= start:
        raise InvalidArgument(
            f"u = {_show(u_exact)} is invalid: the bracket needs a threshold above alpha^N = {_show(start)}, "
            f"and the hitting time of a lower threshold is 0; pass u with alpha^N < u < mu."
        )
    if u_exact >= mu_exact:
        raise InvalidArgument(
            f"u = {_show(u_exact)} is invalid: the product increases to mu = {_show(mu_exact)} without reaching it, "
            f"so the hitting time is infinite; pass u < mu."
        )

    # An mpf argument is a binary rounding of the caller's value, and rounding alone can lift
    # S(mu) = 1 to 1 + 1e-60: within that slack the bracket is read at the edge S(mu) = 1.
    power = _step_size_number_power(mu_exact, eta_exact, depth)
    rounded = any(isinstance(value, mpmath.mpf) for value in (mu, eta))
    at_edge = power == 1 or (rounded and power > 1 and power - 1 <= _rounding_slack(depth))
    if power > 1 and not at_edge:
        with mp.workdps(20):
            excess = mpmath.expm1(mpmath.log1p(_to_mpf(power - 1)) / depth)
            step_size_text = f"1 + {mpmath.nstr(excess, 3)}" if excess < 1e-3 else mpmath.nstr(1 + excess, 6)
        raise InvalidArgument(
            f"eta = {_show(eta_exact)} is invalid for the bracket: the step-size number S(mu) = eta N mu^(2-2/N) = "
            f"{step_size_text} exceeds 1, so the iterates need not be monotone; "
            f"pass eta <= 1 / (N mu^(2-2/N)), for example max_step_size(mu, depth), which is rounded down."
        )

    return _BracketInputs(u_exact, mu_exact, alpha_exact, eta_exact, depth, at_edge)


def _rounding_slack(depth: int) -> Fraction:
    r"""Bound the excess of ``S(mu)^N`` over 1 that rounding ``mu`` and ``eta`` to ``mp.prec`` bits can cause.

    ``S(mu)^N = (eta N)^N mu^(2N-2)`` has relative condition number ``3N - 2`` in
    ``(eta, mu)``, and each mpf argument carries a relative error of at most
    ``2 * 2^(-mp.prec)`` (a fraction converted as numerator over denominator is
    rounded twice), so the slack ``8 N 2^(-mp.prec)`` covers their combined effect.
    Arguments rounded at a coarser precision than the current one are not covered.
    """
    return Fraction(8 * depth, 2**mp.prec)


def _evaluate_bracket(inputs: _BracketInputs, lower: bool = True) -> tuple[mpmath.mpf, mpmath.mpf | None, mpmath.mpf]:
    """Return ``(Phi_mu(u), Hlower(u) or None, Hupper(u))`` at the current precision."""
    mu, alpha, depth, u = inputs.mu, inputs.alpha, inputs.depth, inputs.u
    eta = _to_mpf(inputs.eta)
    phi_u = _potential_exact(u, mu, alpha, depth)

    if u <= inputs.peak:
        upper = 1 + phi_u / eta + _log_speed_ratio(u, inputs.start, mu, depth)
        lower_value = phi_u / eta if lower else None
        return phi_u, lower_value, upper

    upper = 2 + phi_u / eta + _log_speed_ratio(inputs.peak, inputs.start, mu, depth)
    if not lower:
        return phi_u, None, upper

    # With q = 1 - S(mu) = 0 the logarithmic term of Hlower is 0.
    level = inputs.saturation_start
    steps = mpmath.mpf(0)
    contraction = None if inputs.at_edge else _log_inverse_contraction(mu, inputs.eta, depth)
    if contraction is not None:
        steps = max(steps, _log_ratio(mu - level, mu - u) / contraction - 1)

    lower_value = _potential_exact(level, mu, alpha, depth) / eta + steps
    return phi_u, lower_value, upper


def hitting_time_lower(u: RealLike, mu: RealLike, alpha: RealLike, eta: RealLike, depth: int) -> mpmath.mpf:
    r"""Compute the lower side ``Hlower(u)`` of the hitting-time bracket.

    With ``v* = (N - 1) mu / (2N - 1)`` and ``q = 1 - S(mu)``::

        Hlower(u) = Phi_mu(u) / eta                                                 if u <= v*
                  = Phi_mu(v*) / eta + max(0, ln((mu - v*)/(mu - u)) / ln(1/q) - 1)  if u >  v*

    where the logarithmic term is 0 when ``q = 0``.  Under the hypotheses ``mu > 0``,
    ``alpha^N < u < mu`` and ``S(mu) <= 1``, ``Hlower(u) <= T_mu(u)``: while ``h``
    increases each step covers at most ``eta`` of potential, and past ``v*`` the
    product error ``mu - p_k`` shrinks by a factor of at least ``q`` per step.

    When ``alpha^N > v*`` the rising part is empty, so ``v*`` is replaced by
    ``alpha^N`` in the second line (``Phi_mu(alpha^N) = 0``); the formula leaves
    ``Phi_mu(v*)`` undefined there.

    Parameters and errors are those of :func:`hitting_time_bracket`.

    Examples
    --------
    Depth 3, ``mu = 1``, ``alpha = 0.1``, ``eta = 0.05``: gradient descent first
    reaches ``p_k >= 0.9`` at step 201.

    >>> print(hitting_time_lower("0.9", 1, "0.1", "0.05", 3))
    189.388305142048
    """
    inputs = _check_bracket_hypotheses(u, mu, alpha, eta, depth)

    with mp.workdps(mp.dps + GUARD_DIGITS):
        value = _evaluate_bracket(inputs)[1]

    return +value


def hitting_time_upper(u: RealLike, mu: RealLike, alpha: RealLike, eta: RealLike, depth: int) -> mpmath.mpf:
    r"""Compute the upper side ``Hupper(u)`` of the hitting-time bracket.

    With ``v* = (N - 1) mu / (2N - 1)`` and ``x* = v*^(1/N)``::

        Hupper(u) = 1 + Phi_mu(u) / eta + ln(h(u^(1/N)) / h(alpha))   if u <= v*
                  = 2 + Phi_mu(u) / eta + ln(h(x*) / h(alpha))         if u >  v*

    Under the hypotheses ``mu > 0``, ``alpha^N < u < mu`` and ``S(mu) <= 1``,
    ``T_mu(u) <= Hupper(u)``: while ``h`` increases, step ``j`` covers at least
    ``eta (1 - ln(h(x_(j+1)) / h(x_j)))`` of potential, which telescopes, and past
    ``x*`` each step covers at least ``eta``.

    Parameters and errors are those of :func:`hitting_time_bracket`.

    Examples
    --------
    >>> print(hitting_time_upper("0.9", 1, "0.1", "0.05", 3))
    204.73021394815
    """
    inputs = _check_bracket_hypotheses(u, mu, alpha, eta, depth)

    with mp.workdps(mp.dps + GUARD_DIGITS):
        value = _evaluate_bracket(inputs, lower=False)[2]

    return +value


@dataclass(frozen=True)
class HittingTimeBracket:
    """The bracket ``lower <= T_mu(threshold) <= upper`` with the quantities behind it.

    Attributes
    ----------
    threshold : mpf
        Product level ``u``.
    potential : mpf
        ``Phi_mu(u)``.
    lower : mpf
        ``Hlower(u)``; the integer hitting time is at least ``ceil(lower)``.
    upper : mpf
        ``Hupper(u)``; the integer hitting time is at most ``floor(upper)``.
    step_size_number : mpf
        ``S(mu) = eta N mu^(2-2/N)``.
    dps : int
        Decimal precision of the values (the caller's ``mp.dps``).
    """

    threshold: mpmath.mpf
    potential: mpmath.mpf
    lower: mpmath.mpf
    upper: mpmath.mpf
    step_size_number: mpmath.mpf
    dps: int


def hitting_time_bracket(u: RealLike, mu: RealLike, alpha: RealLike, eta: RealLike, depth: int) -> HittingTimeBracket:
    r"""Compute ``Phi_mu(u)``, ``Hlower(u)``, ``Hupper(u)`` and ``S(mu)`` together.

    ``Hlower(u) <= T_mu(u) <= Hupper(u)`` for the hitting time
    ``T_mu(u) = min{k : x_k^N >= u}`` of gradient descent from ``x_0 = alpha``.  The
    two sides are defined in :func:`hitting_time_lower` and :func:`hitting_time_upper`.
    This function returns the same values and evaluates each potential once.

    Parameters
    ----------
    u : int, float, str, Fraction or mpf
        Threshold of the product, ``alpha^N < u < mu``.
    mu : int, float, str, Fraction or mpf
        Eigenvalue of the target, ``mu > 0``.
    alpha : int, float, str, Fraction or mpf
        Initial scale, ``alpha > 0``.
    eta : int, float, str, Fraction or mpf
        Step size, ``eta > 0`` with ``S(mu) = eta N mu^(2-2/N) <= 1``.
    depth : int
        Number of factors ``N >= 2``.

    Returns
    -------
    HittingTimeBracket
        All values at the caller's precision.

    Raises
    ------
    InvalidArgument
        If a hypothesis fails (``mu > 0``, ``alpha^N < u < mu``, ``S(mu) <= 1``, decided
        in exact arithmetic) or an argument is not a valid number.

    Notes
    -----
    An mpf ``mu`` or ``eta`` is taken as a rounding, at the current precision, of
    the value meant, so ``S(mu)^N`` up to ``1 + 8 N 2^(-mp.prec)`` counts as the
    edge ``S(mu) = 1`` (``q = 0``) instead of raising.  This is how the sympy
    functions ``Hlower`` and ``Hupper`` reach this code: their arguments arrive
    rounded, and an exact ``S(mu) = 1`` can come out as ``1 + 1e-60``.  Exact
    arguments (int, str, Fraction) get no allowance.

    Examples
    --------
    >>> bracket = hitting_time_bracket("0.999999", 1, "0.1", "0.05", 3)
    >>> print(bracket.lower, bracket.upper, bracket.step_size_number)
    260.228825077468 282.42796438639 0.15
    """
    inputs = _check_bracket_hypotheses(u, mu, alpha, eta, depth)
    dps = mp.dps

    with mp.workdps(dps + GUARD_DIGITS):
        phi_u, lower, upper = _evaluate_bracket(inputs)
        mu_power = _to_mpf(inputs.mu) ** (mpmath.mpf(2 * inputs.depth - 2) / inputs.depth)
        step_size = _to_mpf(inputs.eta) * inputs.depth * mu_power

    return HittingTimeBracket(
        threshold=+_to_mpf(inputs.u),
        potential=+phi_u,
        lower=+lower,
        upper=+upper,
        step_size_number=+step_size,
        dps=dps,
    )


def estimate_hitting_time(u: RealLike, mu: RealLike, alpha: RealLike, eta: RealLike, depth: int) -> float:
    r"""Estimate the hitting time ``T_mu(u)`` cheaply, to size a run before it starts.

    The rising part counts ``Phi_mu(min(u, v*)) / eta`` steps, with
    ``v* = (N - 1) mu / (2N - 1)``.  Past ``v*``, one step multiplies the distance
    to the fixed point by a local ratio ``r`` that decreases to ``1 - S(mu)`` at
    ``mu``, and the estimate adds the step count of that geometric convergence.
    For ``S(mu) <= 1``, ``1 - S(mu) <= r <= exp(-eta g)`` with ``g`` the local
    speed per unit distance, so the result lies in ``[Hlower(u), Phi_mu(u) / eta]``,
    inside ``[Hlower(u), Hupper(u) - 1]``.
    It is an estimate, not a bound: on the reference instances it came out 1 to 5
    steps below the true hitting time, since ``Phi / eta`` undercounts the rising
    part by up to ``1 + ln(h(x*) / h(alpha))``.  It is evaluated at
    ``ESTIMATE_DIGITS`` digits whatever the caller's precision.

    Parameters
    ----------
    u, alpha : int, float, str, Fraction or mpf
        Threshold of the product and initial scale ``alpha > 0``.
    mu : int, float, str, Fraction or mpf
        Eigenvalue of the target (any finite real).
    eta : int, float, str, Fraction or mpf
        Step size, ``eta > 0``.  ``S(mu) > 1`` is accepted: the count stops where a
        step first overshoots the fixed point, and adds that step.
    depth : int
        Number of factors ``N >= 2``.

    Returns
    -------
    float
        0.0 if ``u <= alpha^N``, which is reached at step 0, and ``math.inf`` if
        ``u >= mu``, which is never reached from below.  Otherwise a finite value
        ``>= 0``, capped at ``sys.float_info.max`` when it overflows a float.

    Examples
    --------
    Gradient descent with these parameters first reaches ``p_k >= 0.999999`` at
    step 273:

    >>> round(estimate_hitting_time("0.999999", 1, "0.1", "0.05", 3))
    270
    >>> estimate_hitting_time("1.5", 1, "0.1", "0.05", 3)
    inf
    """
    depth = check_depth(depth)
    mu_exact = _exact("mu", mu)
    alpha_exact = _check_positive("alpha", alpha)
    eta_exact = _check_positive("eta", eta)
    u_exact = _exact("u", u)

    if u_exact <= alpha_exact**depth:
        return 0.0
    if u_exact >= mu_exact:
        return math.inf

    inputs = _BracketInputs(u_exact, mu_exact, alpha_exact, eta_exact, depth)
    with mp.workdps(ESTIMATE_DIGITS):
        rising_end = min(inputs.u, inputs.saturation_start)
        steps = _potential_exact(rising_end, inputs.mu, inputs.alpha, depth) / _to_mpf(inputs.eta)
        if inputs.u > inputs.saturation_start:
            steps += _estimate_saturating_steps(inputs.saturation_start, inputs.u, inputs.mu, inputs.eta, depth)

    return min(float(steps), sys.float_info.max)
