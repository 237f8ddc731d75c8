"""The evaluation context of a check: inputs, their enclosures, and hypotheses.

A :class:`Context` contains what a theorem's expressions may read on one instance:
the exact parameters (``alpha``, ``eta``, ``N``, ``r``, ``eps``, ``delta``), the
eigenvalues ``lambda_i`` of the ground truth and ``mu_i`` of the target with
the radii of their rigorous enclosures, the noise size ``sigma`` with its
interval, and the derived quantities once evaluated.

Expressions are evaluated exactly in rationals when they are algebraic in
exact inputs, and otherwise at ``dps`` digits with an error estimate: ten
times the difference between evaluations at ``dps`` and ``dps + 15`` digits,
plus ``10^(5 - dps)`` relative.  When an input is known only to a radius, the
*corners* (every eigenvalue and ``sigma`` shifted by plus or minus its radius)
widen that estimate, and a hypothesis must come out the same at every corner
to be decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath
import sympy

from dmfverify import symbolic as sym
from dmfverify.errors import DmfverifyError, InvalidTheorem
from dmfverify.instance import Instance
from dmfverify.rounding import to_fraction_exact
from dmfverify.scalar_engine import ScalarRun
from dmfverify.spectrum import ground_truth_spectrum, noise_norm, target_spectrum
from dmfverify.theorem import Theorem

__all__ = ["CheckOptions", "Context", "build_context"]


@dataclass(frozen=True)
class CheckOptions:
    """Settings of a check.

    Attributes
    ----------
    dps : int
        Decimal digits for evaluating bounds and hypotheses.
    max_bits : int
        Precision cap of the certified enclosure when escalating.
    budget : int
        Largest horizon (steps per eigenvalue) a run may use.
    default_fraction : str
        Claims that hold "for every step" are checked up to the step where every
        positive eigenvalue has reached this fraction of itself (estimated), plus 10%.
    """

    dps: int = 50
    max_bits: int = 512
    budget: int = 5_000_000
    default_fraction: str = "0.999"


@dataclass
class Context:
    """Values available to the expressions of a theorem on one instance."""

    instance: Instance
    values: dict[str, Any]
    arrays: dict[str, list[Fraction]]
    sigma_interval: tuple[Fraction, Fraction]
    dps: int
    derived: dict[str, Any] = field(default_factory=dict)
    run: ScalarRun | None = None
    options: CheckOptions = field(default_factory=CheckOptions)
    corners: list["Context"] = field(default_factory=list)

    def indices(self, over: str | None) -> list[int]:
        """Return the 1-based eigenvalue indices of an index set (``[None]`` when ``over`` is None)."""
        n = self.instance.n
        rank = self.instance.rank
        if over is None:
            return [0]
        if over == "all":
            return list(range(1, n + 1))
        if over == "first":
            return [1]
        if over == "positive":
            radii = self.values["_radii"]["mu"]
            return [j for j in range(1, n + 1) if self.arrays["mu"][j - 1] > radii[j - 1]]
        if rank is None:
            raise _Vacuous("the instance gives no rank r")
        if over == "top":
            return list(range(1, rank + 1))
        return list(range(rank + 1, n + 1))

    def scope(self, index: int | None = None, level: Any = None) -> dict[str, Any]:
        """Return the symbol values for one expanded check."""
        scope = dict(self.values)
        scope.update(self.derived)
        if index:
            scope["i"] = index
        if level is not None:
            scope["u"] = level
        return scope


class _Vacuous(Exception):
    """A hypothesis or a required field is missing; the message names it."""


class _Undecided(Exception):
    """A hypothesis could not be decided at the working precision."""


def build_context(instance: Instance, options: CheckOptions) -> Context:
    """Collect parameter values and certified spectra of an instance."""
    dps = options.dps
    target = target_spectrum(instance, dps=dps)
    truth = ground_truth_spectrum(instance, dps=dps)
    sigma_lo, sigma_hi = noise_norm(instance, dps=dps)

    values: dict[str, Any] = {
        "N": instance.depth,
        "alpha": instance.alpha,
        "eta": instance.eta,
        "n": instance.n,
        "sigma": (sigma_lo + sigma_hi) / 2,
        "sigma_F": _frobenius(instance),
        "_radii": {"mu": [target.radius_of(j) for j in range(instance.n)], "lambda": [truth.radius_of(j) for j in range(instance.n)]},
    }
    for field_name, symbol_name in (("rank", "r"), ("eps", "epsilon"), ("delta", "delta")):
        value = getattr(instance, field_name)
        if value is not None:
            values[symbol_name] = value

    return Context(
        instance=instance,
        values=values,
        arrays={"lambda": list(truth.values), "mu": list(target.values)},
        sigma_interval=(sigma_lo, sigma_hi),
        dps=dps,
        options=options,
    )


def _frobenius(instance: Instance) -> Fraction | mpmath.mpf:
    """Return the Frobenius norm of the noise (exact when its square is a perfect square, else at 60 digits)."""
    if instance.noise is None:
        return Fraction(0)
    square = sum((entry * entry for row in instance.noise for entry in row), Fraction(0))
    with mpmath.workdps(60):
        return to_fraction_exact(mpmath.sqrt(mpmath.mpf(square.numerator) / square.denominator))


def _evaluate(expr, context: Context, scope: dict[str, Any]) -> tuple[mpmath.mpf, mpmath.mpf]:
    """Return an expression's value at ``dps`` digits and an estimate of its error."""
    exact = _exact_value(expr, context, scope)
    if exact is not None:
        with mpmath.workdps(context.dps):
            return mpmath.mpf(exact.numerator) / exact.denominator, mpmath.mpf(0) if exact.denominator == 1 else mpmath.mpf(10) ** (-context.dps - 5) * abs(mpmath.mpf(exact.numerator) / exact.denominator)

    values = {key: value for key, value in scope.items() if not key.startswith("_")}
    first = sym.evaluate(expr, values, dps=context.dps, arrays=context.arrays)
    second = sym.evaluate(expr, values, dps=context.dps + 15, arrays=context.arrays)
    with mpmath.workdps(context.dps + 15):
        error = 10 * abs(first - second) + abs(second) * mpmath.mpf(10) ** (5 - context.dps) + mpmath.mpf(10) ** (-context.dps)
    return first, error


def _make_corners(theorem: Theorem, context: Context) -> None:
    """Build copies of the context with the inexact inputs at the ends of their enclosures.

    Eigenvalues of a non-diagonal target and the noise norm are known only within
    radii.  Each corner shifts every eigenvalue by plus or minus its radius and
    sigma by plus or minus its radius, and re-evaluates the derived quantities, so
    the spread of a bound over the corners estimates its sensitivity to the inputs.
    """
    radii = context.values["_radii"]
    inexact = any(radius for entries in radii.values() for radius in entries)
    sigma_radius = (context.sigma_interval[1] - context.sigma_interval[0]) / 2
    if not inexact and sigma_radius == 0:
        return
    for sign in (-1, 1):
        for sigma_shift in (-sigma_radius, sigma_radius):
            values = dict(context.values, sigma=context.values["sigma"] + sigma_shift)
            arrays = {name: [value + sign * radius for value, radius in zip(entries, radii[name])] for name, entries in context.arrays.items()}
            corner = Context(context.instance, values, arrays, context.sigma_interval, context.dps, options=context.options)
            _evaluate_derived(theorem, corner)
            context.corners.append(corner)


def _evaluate_uncertain(expr, context: Context, index: int | None, level: Any, extra: dict[str, Any] | None = None):
    """Return an expression's value and an error estimate that includes the inputs' enclosure radii."""
    value, error = _evaluate(expr, context, dict(context.scope(index, level), **(extra or {})))
    for corner in context.corners:
        shifted, _ = _evaluate(expr, corner, dict(corner.scope(index, level), **(extra or {})))
        with mpmath.workdps(context.dps + 15):
            error = max(error, abs(shifted - value) * 2 + error)
    return value, error


def _level_interval(expr, context: Context, scope: dict[str, Any]) -> tuple[Fraction, Fraction]:
    """Enclose a level whose value depends on inexact eigenvalues or on sigma.

    The level is evaluated with every eigenvalue and sigma shifted by their
    enclosure radii in both directions.  The extremes, widened by the
    evaluation error, enclose it when it depends monotonically on a common
    shift (true for the levels of the catalog: sums and maxima of eigenvalues,
    sigma and constants).
    """
    centre = _exact_or_rounded(expr, context, scope)
    radii = context.values["_radii"]
    inexact = any(radius for entries in radii.values() for radius in entries)
    sigma_radius = (context.sigma_interval[1] - context.sigma_interval[0]) / 2
    names = sym.free_names(sympy.sympify(expr))
    if (not inexact or not names & {"mu", "lambda"}) and (sigma_radius == 0 or "sigma" not in names):
        return centre, centre

    corners = []
    saved = context.arrays
    for sign in (-1, 1):
        for sigma_shift in (-sigma_radius, sigma_radius):
            context.arrays = {name: [value + sign * radius for value, radius in zip(values, radii[name])] for name, values in saved.items()}
            shifted = dict(scope, sigma=scope.get("sigma", Fraction(0)) + sigma_shift)
            try:
                value, error = _evaluate(expr, context, shifted)
            finally:
                context.arrays = saved
            corners.append(to_fraction_exact(value) - to_fraction_exact(error))
            corners.append(to_fraction_exact(value) + to_fraction_exact(error))
    return min(corners + [centre]), max(corners + [centre])


def _exact_or_rounded(expr, context: Context, scope: dict[str, Any]) -> Fraction:
    """Evaluate a level exactly when it is a rational expression of exact inputs, else at ``dps`` digits."""
    exact = _exact_value(expr, context, scope)
    if exact is not None:
        return exact
    value, _ = _evaluate(expr, context, scope)
    return to_fraction_exact(value)


#: Exact evaluation is tried only when every rational involved has numerator and denominator below this.
_EXACT_SIZE_LIMIT = 10**40


def _exact_value(expr, context: Context, scope: dict[str, Any]) -> Fraction | None:
    """Evaluate an expression exactly in rationals, or return None when that is not possible or not cheap.

    Only algebraic expressions qualify (sums, products, powers, Max and Min, no
    logarithms or special functions), and with fractional powers only small
    rationals: sympy would otherwise factor huge integers to extract roots.
    """
    expr = sympy.sympify(expr)
    if any(not isinstance(function, (sympy.Max, sympy.Min)) for function in expr.atoms(sympy.Function)):
        return None
    substitutions = {}
    for key, value in scope.items():
        if key.startswith("_"):
            continue
        standard = sym.STANDARD_SYMBOLS.get(key)
        name = standard.name if isinstance(standard, sympy.Symbol) else key
        if isinstance(value, (Fraction, int)):
            substitutions[name] = sympy.Rational(value.numerator, value.denominator) if isinstance(value, Fraction) else sympy.Integer(value)
    integers = {symbol: substitutions[symbol.name] for symbol in expr.free_symbols
                if isinstance(symbol, sympy.Symbol) and symbol.name in substitutions and substitutions[symbol.name].is_Integer
                and abs(substitutions[symbol.name]) < 10**6}
    fractional_powers = any(not power.exp.is_Integer for power in expr.xreplace(integers).atoms(sympy.Pow))
    used = {symbol.name for symbol in expr.free_symbols if isinstance(symbol, sympy.Symbol)}
    if fractional_powers and any(abs(substitutions[name].p) > _EXACT_SIZE_LIMIT or substitutions[name].q > _EXACT_SIZE_LIMIT
                                 for name in used if name in substitutions):
        return None
    concrete = expr.xreplace({symbol: substitutions[symbol.name] for symbol in expr.free_symbols
                              if isinstance(symbol, sympy.Symbol) and symbol.name in substitutions})
    indexed = {}
    for atom in concrete.atoms(sympy.Indexed):
        index = atom.indices[0]
        if not index.is_Integer:
            return None
        sequence = context.arrays.get(str(atom.base.label))
        if sequence is None or not 1 <= int(index) <= len(sequence):
            return None
        value = sequence[int(index) - 1]
        if fractional_powers and (abs(value.numerator) > _EXACT_SIZE_LIMIT or value.denominator > _EXACT_SIZE_LIMIT):
            return None
        indexed[atom] = sympy.Rational(value.numerator, value.denominator)
    concrete = concrete.xreplace(indexed)
    if concrete.is_Rational:
        return Fraction(int(concrete.p), int(concrete.q))
    return None


def _decide(condition, context: Context, scope: dict[str, Any]) -> bool:
    """Decide a sympy relation (or a conjunction): True, False, or raise _Undecided."""
    if isinstance(condition, sympy.And):
        return all(_decide(part, context, scope) for part in condition.args)
    if isinstance(condition, sympy.Or):
        return any(_decide(part, context, scope) for part in condition.args)
    if condition in (sympy.true, True):
        return True
    if condition in (sympy.false, False):
        return False
    if not isinstance(condition, sympy.core.relational.Relational):
        raise InvalidTheorem(f"hypothesis {condition} is not a relation; write it with <, <=, > or >=.")

    difference = condition.lhs - condition.rhs
    exact = _exact_value(difference, context, scope)
    if exact is not None:
        return bool(condition.func(sympy.Rational(exact.numerator, exact.denominator), 0))

    value, error = _evaluate(difference, context, scope)
    if value > error:
        return bool(condition.func(1, 0))
    if value < -error:
        return bool(condition.func(-1, 0))
    raise _Undecided(f"{condition} is within rounding of equality (difference {mpmath.nstr(value, 5)})")


def _check_hypotheses(hypotheses, context: Context, index: int | None = None, level: Any = None) -> None:
    for hypothesis in hypotheses:
        indices = context.indices(hypothesis.over) if hypothesis.over else [index]
        for j in indices:
            scope = context.scope(j, level)
            try:
                holds = _decide(hypothesis.condition, context, scope)
                # With inexact inputs the hypothesis must come out the same at every end of their enclosures.
                for corner in context.corners:
                    if _decide(hypothesis.condition, corner, corner.scope(j, level)) != holds:
                        raise _Undecided(f"'{hypothesis.name}' changes within the enclosures of the eigenvalues and sigma")
            except InvalidTheorem:
                raise
            except DmfverifyError as error:
                raise _Vacuous(f"hypothesis '{hypothesis.name}' cannot be evaluated: {error}") from None
            if not holds:
                where = f" at i = {j}" if j else ""
                raise _Vacuous(f"hypothesis '{hypothesis.name}' fails{where}")


def _evaluate_derived(theorem: Theorem, context: Context) -> None:
    for derived in theorem.derived:
        if derived.reduce is None:
            value, _ = _evaluate(derived.expr, context, context.scope())
        else:
            values = [_evaluate(derived.expr, context, context.scope(j))[0] for j in context.indices(derived.over)]
            if not values:
                raise _Vacuous(f"derived quantity {derived.name} ranges over an empty index set")
            with mpmath.workdps(context.dps):
                value = {"max": max, "min": min, "sum": mpmath.fsum}[derived.reduce](values)
        context.derived[derived.name] = to_fraction_exact(value)
