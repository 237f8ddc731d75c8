r"""The symbolic layer: parameter symbols, special functions and evaluation of bounds.

Theorems state their hypotheses and bounds as sympy expressions in the symbols
below.  Evaluation turns an expression into an mpmath number at a requested
precision by :func:`sympy.lambdify` with the ``"mpmath"`` module, always inside
``mpmath.workdps``.

Notation
--------
=================  ==========================================================
``N``              depth (number of factors), an integer ``>= 2``
``alpha``          initial scale, ``W_j(0) = alpha I``
``eta``            step size
``eps``, ``delta`` accuracy of a learned eigenvalue, leakage level
``sigma``          spectral norm of the noise ``||E||_2``
``r``, ``n``       rank of the low-rank phase, size of the target
``lam[i]``         ``lambda_i``: i-th largest eigenvalue of the ground truth (1-based)
``mu[i]``          ``mu_i``: i-th largest eigenvalue of the observed target (1-based)
``i``              the eigenvalue index a claim ranges over
``u``, ``u0``      levels of the product eigenvalue ``p = x^N``
``k``, ``m``       step counts
``theta``          a fraction of an eigenvalue
=================  ==========================================================

Special functions (arguments explicit, so that scaling checks see them):
``Phi(v, mu, alpha, N)`` the potential, ``J(v, alpha, N)`` its elementary
bracket, ``Hlower(u, mu, alpha, eta, N)`` and ``Hupper(u, mu, alpha, eta, N)``
the two sides of the hitting-time bracket.

Pitfalls of the translation to mpmath
-------------------------------------
``lambdify`` prints ``Rational(1, 3)`` as ``mpf(1)/mpf(3)`` for the mpmath
module, so it is evaluated at the working precision.  With the ``"math"`` or
``"numpy"`` modules the same expression would become the float ``1/3`` and
silently cap the accuracy at 16 digits; this module never uses them:

>>> import sympy
>>> from mpmath import mp
>>> expr = sympy.Rational(1, 3) * alpha
>>> with mp.workdps(40):
...     print(evaluate(expr, {alpha: 1}, dps=40))
0.3333333333333333333333333333333333333333

Python floats passed as values are taken at their binary value; pass
``Fraction`` or strings for exact decimals.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Any, Mapping

import mpmath
import sympy
from sympy import Indexed, IndexedBase

from dmfverify import hitting_time as _hitting_time
from dmfverify import potential as _potential
from dmfverify.errors import InvalidArgument, InvalidTheorem

__all__ = [
    "N", "alpha", "eta", "eps", "delta", "sigma", "sigma_F", "r", "n", "i", "u", "u0", "k", "m", "theta", "e",
    "lam", "mu", "Phi", "J", "Hlower", "Hupper", "S", "vstar", "h",
    "STANDARD_SYMBOLS", "evaluate", "to_mpf", "free_names",
]

N = sympy.Symbol("N", integer=True, positive=True)
alpha = sympy.Symbol("alpha", positive=True)
eta = sympy.Symbol("eta", positive=True)
eps = sympy.Symbol("epsilon", positive=True)
delta = sympy.Symbol("delta", positive=True)
sigma = sympy.Symbol("sigma", nonnegative=True)
sigma_F = sympy.Symbol("sigma_F", nonnegative=True)
r = sympy.Symbol("r", integer=True, positive=True)
n = sympy.Symbol("n", integer=True, positive=True)
i = sympy.Symbol("i", integer=True, positive=True)
u = sympy.Symbol("u", positive=True)
u0 = sympy.Symbol("u_0", positive=True)
k = sympy.Symbol("k", integer=True, nonnegative=True)
m = sympy.Symbol("m", integer=True, nonnegative=True)
theta = sympy.Symbol("theta", positive=True)
e = sympy.Symbol("e", positive=True)
lam = IndexedBase("lambda", real=True)
mu = IndexedBase("mu", real=True)


def _mpf_function(implementation):
    """Wrap a potential function so that it receives the depth as an int."""

    @functools.wraps(implementation)
    def wrapper(*args):
        *values, depth = args
        return implementation(*values, int(depth))

    return wrapper


class _MpmathFunction(sympy.Function):
    """A sympy function evaluated by an mpmath implementation (for ``evalf`` and ``lambdify``)."""

    _implementation = None

    def _eval_evalf(self, prec):
        dps = mpmath.libmp.prec_to_dps(prec)
        values = [argument.evalf(prec + 20) for argument in self.args]
        if not all(value.is_number and value.is_real for value in values):
            return None

        # The arguments are converted at the precision they were rounded to, so the
        # implementation's allowance for rounded inputs (at S(mu) = 1) matches their error.
        with mpmath.workprec(prec + 20):
            result = type(self)._implementation(*[mpmath.mpf(value) for value in values[:-1]], int(values[-1]))
        return sympy.Float(result, dps)


class Phi(_MpmathFunction):
    r"""Potential ``Phi_mu(v) = int_{alpha^N}^{v} ds / (N s^(2-2/N) (mu - s))``; arguments ``(v, mu, alpha, N)``."""

    nargs = 4
    _implementation = staticmethod(_mpf_function(_potential.potential))

    def _latex(self, printer):
        v, mu_, alpha_, _ = (printer._print(a) for a in self.args)
        return rf"\Phi_{{{mu_}}}({v})"


class J(_MpmathFunction):
    r"""Elementary bracket ``J(v) = (alpha^(2-N) - v^((2-N)/N)) / (N-2)`` (``ln(v/alpha^2)/2`` for N = 2); arguments ``(v, alpha, N)``."""

    nargs = 3
    _implementation = staticmethod(_mpf_function(_potential.elementary_bracket))

    def _latex(self, printer):
        return rf"J({printer._print(self.args[0])})"


class Hlower(_MpmathFunction):
    r"""Lower side of the hitting-time bracket of ``T_mu(u)``; arguments ``(u, mu, alpha, eta, N)``."""

    nargs = 5
    _implementation = staticmethod(_mpf_function(_hitting_time.hitting_time_lower))

    def _latex(self, printer):
        return rf"H^{{-}}_{{{printer._print(self.args[1])}}}({printer._print(self.args[0])})"


class Hupper(_MpmathFunction):
    r"""Upper side of the hitting-time bracket of ``T_mu(u)``; arguments ``(u, mu, alpha, eta, N)``."""

    nargs = 5
    _implementation = staticmethod(_mpf_function(_hitting_time.hitting_time_upper))

    def _latex(self, printer):
        return rf"H^{{+}}_{{{printer._print(self.args[1])}}}({printer._print(self.args[0])})"


def S(mu_value, eta_value=eta, depth=N):
    """Return the step-size number ``S(mu) = eta N mu^(2 - 2/N)`` as an expression."""
    return eta_value * depth * mu_value ** (2 - 2 / depth)


def vstar(mu_value, depth=N):
    """Return ``v*(mu) = (N-1) mu / (2N-1)``, the level where the speed ``h`` peaks."""
    return (depth - 1) * mu_value / (2 * depth - 1)


def h(x, mu_value, depth=N):
    """Return the speed ``h(x) = x^(N-1) (mu - x^N)``."""
    return x ** (depth - 1) * (mu_value - x**depth)


STANDARD_SYMBOLS: dict[str, Any] = {
    "N": N, "alpha": alpha, "eta": eta, "epsilon": eps, "eps": eps, "delta": delta, "sigma": sigma, "sigma_F": sigma_F,
    "r": r, "n": n, "i": i, "u": u, "u_0": u0, "u0": u0, "k": k, "m": m, "theta": theta, "e": e,
    "lambda": lam, "lam": lam, "mu": mu,
    "Phi": Phi, "J": J, "Hlower": Hlower, "Hupper": Hupper, "S": S, "vstar": vstar, "h": h,
}

_MODULES = [
    {
        "Phi": Phi._implementation,
        "J": J._implementation,
        "Hlower": Hlower._implementation,
        "Hupper": Hupper._implementation,
    },
    "mpmath",
]


def to_mpf(value: Any) -> mpmath.mpf:
    """Convert a Fraction, int, str or mpf to an mpf at the current precision."""
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    if isinstance(value, bool):
        raise InvalidArgument(f"value {value!r} is a boolean, not a number.")
    return mpmath.mpf(value)


def free_names(expr: sympy.Basic) -> set[str]:
    """Return the names of the symbols and indexed bases an expression depends on."""
    names = {symbol.name for symbol in expr.free_symbols if isinstance(symbol, sympy.Symbol)}
    names |= {str(atom.base.label) for atom in expr.atoms(Indexed)}
    return names


def evaluate(expr: Any, values: Mapping[Any, Any], *, dps: int = 50, arrays: Mapping[str, Any] | None = None) -> mpmath.mpf:
    """Evaluate an expression at ``dps`` decimal digits.

    Parameters
    ----------
    expr : sympy expression or number
    values : mapping from sympy Symbol (or its name) to a number
        Fractions and strings are exact; they are converted at the working precision.
    arrays : mapping from an IndexedBase name (``"lambda"``, ``"mu"``) to a sequence
        Indexed entries such as ``lam[r + 1]`` are looked up 1-based after the
        index is evaluated from ``values``.

    Returns
    -------
    mpmath.mpf
        Rounded to ``dps`` digits.  The result is not an interval: the
        checker estimates its error by evaluating at two precisions.

    Raises
    ------
    InvalidTheorem
        If the expression names a symbol that has no value.
    """
    if not isinstance(expr, sympy.Basic):
        expr = sympy.sympify(expr)
    if expr.has(sympy.zoo, sympy.nan):
        raise InvalidTheorem(f"the expression {expr} is undefined (sympy reduced part of it to {sympy.zoo if expr.has(sympy.zoo) else sympy.nan}, "
                             f"for example a division by an expression that is identically 0); rewrite it.")

    # Symbols are matched by name, so a user's Symbol("K", integer=True) and a plain "K" agree.
    by_name = {}
    for key, value in values.items():
        if isinstance(key, str):
            standard = STANDARD_SYMBOLS.get(key)
            name = standard.name if isinstance(standard, sympy.Symbol) else key
        else:
            name = key.name
        by_name[name] = value
    by_symbol = {symbol: by_name[symbol.name] for symbol in expr.free_symbols if isinstance(symbol, sympy.Symbol) and symbol.name in by_name}

    integer_subs = {symbol: sympy.Integer(int(value)) for symbol, value in by_symbol.items()
                    if symbol.is_integer and _is_integral(value)}
    concrete = expr.xreplace(integer_subs)

    replacements = {}
    argument_values = []
    for atom in sorted(concrete.atoms(Indexed), key=str):
        name = str(atom.base.label)
        index = atom.indices[0]
        if not index.is_Integer:
            raise InvalidTheorem(
                f"the index of {atom} did not evaluate to an integer (unknown symbols {sorted(map(str, index.free_symbols))}); give them values."
            )
        sequence = (arrays or {}).get(name)
        if sequence is None:
            raise InvalidTheorem(f"the expression uses {name}[...] but no values of {name} were given.")
        position = int(index)
        if not 1 <= position <= len(sequence):
            raise InvalidTheorem(f"{atom} is out of range: {name} has entries 1..{len(sequence)}.")
        dummy = sympy.Symbol(f"_{name}_{position}")
        replacements[atom] = dummy
        argument_values.append(sequence[position - 1])
    concrete = concrete.xreplace(replacements)
    if concrete.has(sympy.zoo, sympy.nan):
        raise InvalidArgument(f"the expression {expr} is undefined at these values (it becomes {concrete}), "
                              f"for example a division by 0; add a hypothesis that excludes them.")

    arguments = sorted(replacements.values(), key=str)
    ordered_values = [argument_values[list(replacements.values()).index(symbol)] for symbol in arguments]
    remaining = sorted((s for s in concrete.free_symbols if s not in set(arguments)), key=str)
    missing = [s for s in remaining if s not in by_symbol]
    if missing:
        raise InvalidTheorem(
            f"the expression {expr} uses the symbol(s) {', '.join(map(str, missing))}, which have no value here; "
            f"use only the standard symbols ({', '.join(sorted(k for k in STANDARD_SYMBOLS if k.isidentifier()))}) or give values for them."
        )

    function = _lambdify(tuple(arguments + remaining), concrete)
    with mpmath.workdps(dps):
        converted = [to_mpf(value) for value in ordered_values] + [to_mpf(by_symbol[s]) for s in remaining]
        result = function(*converted)

        # mpmath returns a complex value for a logarithm or a fractional power of a negative number.
        if isinstance(result, mpmath.mpc):
            if result.imag != 0:
                raise InvalidArgument(
                    f"the expression {expr} is not real here (value {mpmath.nstr(result, 6)}): it takes a logarithm "
                    f"or a fractional power of a negative quantity; add a hypothesis that keeps that quantity positive."
                )
            result = result.real
        return +mpmath.mpf(result)


@functools.lru_cache(maxsize=4096)
def _lambdify(arguments: tuple, expr: sympy.Basic):
    return sympy.lambdify(arguments, expr, modules=_MODULES)


def _is_integral(value: Any) -> bool:
    try:
        return Fraction(value).denominator == 1
    except (TypeError, ValueError):
        try:
            return mpmath.mpf(value) == int(mpmath.mpf(value))
        except (TypeError, ValueError):
            return False
