"""The checker: judge every claim of a theorem on an instance.

For one (theorem, instance) pair the checker

1. builds the evaluation context: exact parameters, the eigenvalues ``lam[i]``
   of the ground truth and ``mu[i]`` of the target (rigorous enclosures), the
   noise size ``sigma``;
2. decides the theorem's hypotheses (exactly when the expressions are
   rational, otherwise at high precision with an error estimate); a false one
   makes every claim ``VACUOUS``;
3. evaluates derived quantities (``T0``, ``T1``, ...) and expands each claim over
   its eigenvalue indices and levels;
4. picks the horizon from the bounds (the run goes only as far as the largest
   bound needs) and refuses, with the estimate, beyond the iteration budget;
5. runs the cheapest engine that can certify the comparisons: the certified
   float64 kernel first, then gmpy2 enclosures at 128, 256 ... bits up to
   ``max_bits`` for the checks still undecided;
6. returns one :class:`~dmfverify.verdict.Verdict` per claim.

Bound values are mpmath numbers, not intervals: their error is estimated as
ten times the difference between evaluations at ``dps`` and ``dps + 15``
digits, plus ``10^(5 - dps)`` relative.  The dynamics are rigorous enclosures.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Sequence

import mpmath
import sympy

from dmfverify import symbolic as sym
from dmfverify.errors import BudgetExceeded, CertificationError, DivergenceError, DmfverifyError, InvalidArgument, InvalidTheorem
from dmfverify.instance import Instance
from dmfverify.observable_registry import OBSERVABLES, Enclosure
from dmfverify.rounding import to_fraction_exact
from dmfverify.scalar_engine import ScalarRun, simulate_scalar
from dmfverify.spectrum import ground_truth_spectrum, noise_norm, target_spectrum
from dmfverify.theorem import (
    DEFAULT_LEVEL_FRACTIONS,
    HittingTimeBound,
    ObservableBound,
    StepValueBound,
    Theorem,
    WindowBound,
)
from dmfverify.verdict import Outcome, Verdict, worst

__all__ = ["check", "check_many", "CheckOptions", "Context", "derived_values"]

logger = logging.getLogger(__name__)

p_symbol = sympy.Symbol("p", real=True)
K_symbol = sympy.Symbol("K", integer=True, nonnegative=True)


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


# ------------------------------------------------------------------- context


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
    enclosure radii in both directions; the extremes, widened by the
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


# ------------------------------------------------------------------ expansion


@dataclass
class _Check:
    """One expanded comparison of a claim: an index, a level and the evaluated pieces."""

    claim: Any
    index: int | None
    level: Fraction | None = None
    level_high: Fraction | None = None
    bound: mpmath.mpf | None = None
    bound_error: mpmath.mpf | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None
    observed: Any = None
    margin: float | None = None
    tightness: float | None = None
    reason: str = ""


def _levels_for(claim, context: Context, index: int) -> list[Any]:
    if claim.levels is None:
        return [None]
    instance = context.instance
    if instance.thresholds:
        return list(instance.thresholds)
    eigenvalue = context.arrays["mu"][index - 1]
    if eigenvalue <= 0:
        return []
    depth = instance.depth
    fractions = [Fraction(text) * eigenvalue for text in DEFAULT_LEVEL_FRACTIONS]
    # Levels just below and just above v*(mu) = (N-1) mu / (2N-1) test both branches of the bracket
    # near its peak; v* itself would tie with the branch hypotheses when mu is known only to a radius.
    peak = Fraction(depth - 1, 2 * depth - 1) * eigenvalue
    fractions += [peak * Fraction(999, 1000), peak * Fraction(1001, 1000)]
    return sorted(set(fractions))


def _expand(claim, context: Context) -> list[_Check]:
    checks = []
    for index in context.indices(claim.over):
        index = index or None
        for level in _levels_for(claim, context, index or 1):
            check = _Check(claim, index, extra={"u": level})
            try:
                _check_hypotheses(claim.hypotheses, context, index, level)
            except _Vacuous as vacuous:
                check.outcome, check.reason = Outcome.VACUOUS, str(vacuous)
            except _Undecided as undecided:
                check.outcome, check.reason = Outcome.INCONCLUSIVE, f"hypothesis undecided: {undecided}"
            checks.append(check)
    return checks


def _prepare(check: _Check, context: Context) -> None:
    """Evaluate the level and bound of a check (steps that need no run)."""
    claim = check.claim
    level = check.extra.get("u")
    scope = context.scope(check.index, level)
    if isinstance(claim, HittingTimeBound):
        check.level, check.level_high = _level_interval(claim.level, context, scope)
        check.bound, check.bound_error = _evaluate_uncertain(claim.bound, context, check.index, level)
    elif isinstance(claim, WindowBound):
        check.level, check.level_high = _level_interval(claim.level, context, scope)
        check.extra["start"] = _evaluate_uncertain(claim.start, context, check.index, level)
        if claim.stop is not None:
            check.extra["stop"] = _evaluate_uncertain(claim.stop, context, check.index, level)
    elif isinstance(claim, StepValueBound):
        if claim.anchor_level is not None:
            check.level = _exact_or_rounded(claim.anchor_level, context, scope)
    elif isinstance(claim, ObservableBound):
        check.bound, check.bound_error = _evaluate_uncertain(claim.bound, context, check.index, level)


def _needed_horizon(check: _Check, context: Context, default: int) -> int:
    claim = check.claim
    if isinstance(claim, HittingTimeBound):
        return int(mpmath.ceil(check.bound + check.bound_error)) + 1
    if isinstance(claim, WindowBound):
        if "stop" in check.extra:
            stop, error = check.extra["stop"]
            return int(mpmath.ceil(stop + error)) + 1
        return default
    if isinstance(claim, StepValueBound):
        return default
    if isinstance(claim, ObservableBound):
        return OBSERVABLES[claim.observable].horizon(context, check, dict(claim.options), default)
    return default


_DEFAULT_HORIZONS: dict[tuple[str, str, int], int] = {}


def _default_horizon(context: Context) -> int:
    key = (context.instance.fingerprint(), context.options.default_fraction, context.options.budget)
    if key not in _DEFAULT_HORIZONS:
        if len(_DEFAULT_HORIZONS) > 256:
            _DEFAULT_HORIZONS.clear()
        _DEFAULT_HORIZONS[key] = _estimate_default_horizon(context)
    return _DEFAULT_HORIZONS[key]


def _estimate_default_horizon(context: Context) -> int:
    from dmfverify.potential import estimate_hitting_time

    instance = context.instance
    fraction = Fraction(context.options.default_fraction)
    estimates = [10]
    for value in context.arrays["mu"]:
        if value > 0 and instance.alpha**instance.depth < fraction * value:
            with mpmath.workdps(20):
                estimates.append(estimate_hitting_time(fraction * value, value, instance.alpha, instance.eta, instance.depth))
    largest = max(estimates)
    if not math.isfinite(largest) or largest > context.options.budget:
        return context.options.budget + 1
    return int(largest * 1.1) + 10


# ---------------------------------------------------------------------- judge


def _judge_hitting(check: _Check, run: ScalarRun) -> None:
    claim = check.claim
    # A higher level is reached later: the earliest step uses the lowest possible level, the latest the highest.
    earliest, _ = run.hitting_time(check.index - 1, check.level)
    _, latest = run.hitting_time(check.index - 1, check.level_high)
    bound, error = check.bound, check.bound_error
    horizon = run.horizon
    check.observed = _range_text(earliest, latest, horizon)

    if claim.relation == "<=":
        if latest is not None and latest <= bound - error:
            _settle(check, Outcome.HOLDS, latest, bound, "<=")
        elif earliest is not None and earliest > bound + error:
            _settle(check, Outcome.VIOLATED, earliest, bound, "<=")
        elif earliest is None and horizon > bound + error:
            _settle(check, Outcome.VIOLATED, horizon + 1, bound, "<=", note=f"level not reached within {horizon} steps")
            check.tightness = None
        else:
            _undecided(check, f"hitting time range {check.observed} against bound {_show(bound)}")
    else:
        if earliest is not None and earliest >= bound + error:
            _settle(check, Outcome.HOLDS, earliest, bound, ">=")
        elif earliest is None and horizon >= bound + error:
            _settle(check, Outcome.HOLDS, horizon + 1, bound, ">=", note=f"level not reached within {horizon} steps")
            # The hitting time is only known to exceed the horizon: margin and tightness are bounds, not values.
            check.tightness = None
        elif latest is not None and latest < bound - error:
            _settle(check, Outcome.VIOLATED, latest, bound, ">=")
        else:
            _undecided(check, f"hitting time range {check.observed} against bound {_show(bound)}")


def _judge_window(check: _Check, run: ScalarRun) -> None:
    claim = check.claim
    record = run.record(check.index - 1)
    start, start_error = check.extra["start"]
    wide_start = max(int(mpmath.ceil(start - start_error)), 0)
    narrow_start = max(int(mpmath.ceil(start + start_error)), 0)
    if "stop" in check.extra:
        stop, stop_error = check.extra["stop"]
        wide_stop, narrow_stop = int(mpmath.ceil(stop + stop_error)), int(mpmath.ceil(stop - stop_error))
    else:
        stop = wide_stop = narrow_stop = run.horizon + 1

    # The level is known within [level, level_high]: holding needs the unfavourable end, failing the favourable one.
    if claim.side == "above":
        wide = record.always_above(check.level_high, wide_start, wide_stop)
        narrow = record.always_above(check.level, narrow_start, narrow_stop) if narrow_stop > narrow_start else True
    else:
        wide = record.always_below(check.level, wide_start, wide_stop)
        narrow = record.always_below(check.level_high, narrow_start, narrow_stop) if narrow_stop > narrow_start else True
    earliest, _ = record.hitting_time(check.level)
    _, latest = record.hitting_time(check.level_high)
    check.observed = _range_text(earliest, latest, run.horizon)
    window = f"[{wide_start}, {wide_stop})"

    if claim.side == "above":
        slack = (wide_start - latest) if latest is not None else None
        observed, bound_value = latest, wide_start
    else:
        slack = (earliest - wide_stop) if earliest is not None else (run.horizon + 1 - wide_stop)
        observed, bound_value = earliest, wide_stop
        if earliest is not None and earliest < wide_start:
            # The level was reached before the window (a trajectory falling from above it): the first
            # hitting time says nothing about the window, so no margin in steps is reported.
            slack, observed = None, None

    if wide is True:
        check.outcome = Outcome.HOLDS
        check.reason = f"p_{check.index} {'>=' if claim.side == 'above' else '<'} {_show(check.level)} on every step of {window}"
    elif narrow is False:
        check.outcome = Outcome.VIOLATED
        check.reason = f"p_{check.index} {'drops below' if claim.side == 'above' else 'reaches'} {_show(check.level)} inside [{narrow_start}, {narrow_stop})"
    else:
        _undecided(check, f"window {window} against level {_show(check.level)}")
        return
    check.margin = float(slack) if slack is not None else None
    check.bound = bound_value
    if observed is not None and bound_value:
        check.tightness = _tightness(observed, bound_value)


def _judge_step_values(check: _Check, run: ScalarRun, context: Context) -> None:
    claim = check.claim
    scope = context.scope(check.index, check.extra.get("u"))
    outcomes = []
    worst_margin = None
    for step, anchor in check.extra["steps"]:
        low, high = run.value(check.index - 1, step)
        offsets = {"K": anchor, "m": step - check.extra["anchor_step"], "k": step}
        local = dict(scope, **offsets)
        bound, error = _evaluate_uncertain(claim.bound, context, check.index, check.extra.get("u"), offsets)
        observed_low, _ = _evaluate(claim.observed, context, dict(local, p=low))
        observed_high, _ = _evaluate(claim.observed, context, dict(local, p=high))
        smallest, largest = min(observed_low, observed_high), max(observed_low, observed_high)
        if claim.relation == "<=":
            margin_sure, margin_possible = bound - error - largest, bound + error - smallest
        else:
            margin_sure, margin_possible = smallest - bound - error, largest - bound + error
        if margin_sure > 0:
            outcome = Outcome.HOLDS
        elif margin_possible < 0:
            outcome = Outcome.VIOLATED
        else:
            outcome = Outcome.INCONCLUSIVE
        outcomes.append(outcome)
        if worst_margin is None or margin_sure < worst_margin[0]:
            worst_margin = (margin_sure, (smallest + largest) / 2, bound, step)

    check.outcome = worst(outcomes)
    margin, observed, bound, step = worst_margin
    check.observed, check.bound = float(observed), bound
    check.margin = float(margin) if check.outcome is not Outcome.VIOLATED else float(margin)
    check.tightness = _tightness(observed, bound)
    check.reason = f"tightest at step {step} (anchor step {check.extra['anchor_step']})"
    if check.outcome is Outcome.INCONCLUSIVE:
        check.reason += "; the enclosure of p is wider than the margin"


def _judge_observable(check: _Check, run: ScalarRun | None, context: Context) -> None:
    claim = check.claim
    function = OBSERVABLES[claim.observable]
    try:
        enclosure: Enclosure = function.compute(context, check, dict(claim.options))
    except _Undecidable as undecidable:
        _undecided(check, str(undecidable))
        # More precision cannot help here, so the checker does not escalate for this check.
        check.extra["no_escalation"] = True
        return
    bound, error = check.bound, check.bound_error
    check.extra["open_indices"] = enclosure.open_indices
    estimated = "not certified" in enclosure.note or "error estimate" in enclosure.note
    if estimated:
        check.extra["arithmetic"] = "estimated (not certified)"
    with mpmath.workdps(context.dps):
        # Round the ends outwards: rounding to nearest could move an exact equality past the bound.
        enclosure = Enclosure(_as_mpf(enclosure.low, "f"), _as_mpf(enclosure.high, "c"), enclosure.note)
    check.observed = float((enclosure.low + enclosure.high) / 2)
    if claim.relation == "<=":
        if enclosure.high <= bound - error:
            _settle(check, Outcome.HOLDS, enclosure.high, bound, "<=")
        elif enclosure.low > bound + error:
            _settle(check, Outcome.VIOLATED, enclosure.low, bound, "<=")
        else:
            _undecided(check, f"{claim.observable} in [{_show(enclosure.low)}, {_show(enclosure.high)}] against {_show(bound)}")
    else:
        if enclosure.low >= bound + error:
            _settle(check, Outcome.HOLDS, enclosure.low, bound, ">=")
        elif enclosure.high < bound - error:
            _settle(check, Outcome.VIOLATED, enclosure.high, bound, ">=")
        else:
            _undecided(check, f"{claim.observable} in [{_show(enclosure.low)}, {_show(enclosure.high)}] against {_show(bound)}")
    if estimated and check.outcome is Outcome.VIOLATED:
        # A violation needs a certified error bound; an estimated one only makes it suspect.
        check.outcome = Outcome.INCONCLUSIVE
        check.reason = f"suspected violation, not certified: {check.reason}"
    if enclosure.note:
        check.reason = f"{check.reason}; {enclosure.note}" if check.reason else enclosure.note


def _as_mpf(value, rounding: str = "n") -> mpmath.mpf:
    """Convert to mpf at the current precision, rounding a Fraction down ("f"), up ("c") or to nearest ("n")."""
    if isinstance(value, Fraction):
        from mpmath.libmp import from_rational

        return mpmath.mpf(from_rational(value.numerator, value.denominator, mpmath.mp.prec, rounding))
    return mpmath.mpf(value)


class _Undecidable(Exception):
    """An observable cannot be enclosed tightly enough (raised by observables)."""


def _settle(check: _Check, outcome: Outcome, observed, bound, relation: str, note: str = "") -> None:
    check.outcome = outcome
    observed_value = float(observed)
    bound_value = float(bound)
    check.margin = bound_value - observed_value if relation == "<=" else observed_value - bound_value
    check.tightness = _tightness(observed, bound)
    check.reason = note or f"observed {_show(observed)} {'<=' if relation == '<=' else '>='} bound {_show(bound)}" if outcome is Outcome.HOLDS else (
        note or f"observed {_show(observed)} {'>' if relation == '<=' else '<'} bound {_show(bound)}"
    )


def _undecided(check: _Check, what: str) -> None:
    check.outcome = Outcome.INCONCLUSIVE
    check.reason = f"{what}: the margin is within the numerical error"


def _tightness(observed, bound) -> float | None:
    observed, bound = float(observed), float(bound)
    if observed == 0 or bound == 0 or (observed > 0) != (bound > 0):
        return None
    ratio = observed / bound
    return ratio if abs(ratio) <= 1 else 1 / ratio


def _range_text(earliest, latest, horizon) -> str:
    if earliest is None:
        return f"> {horizon}"
    if latest is None:
        return f"[{earliest}, > {horizon}]"
    return str(earliest) if earliest == latest else f"[{earliest}, {latest}]"


def _show(value) -> str:
    if isinstance(value, Fraction):
        value = float(value)
    if isinstance(value, int):
        return str(value)
    return mpmath.nstr(mpmath.mpf(value), 8) if not isinstance(value, float) else f"{value:.8g}"


# ----------------------------------------------------------------------- main


def check(theorem: Theorem, instance: Instance, options: CheckOptions | None = None) -> list[Verdict]:
    """Judge every claim of ``theorem`` on ``instance``.

    Returns
    -------
    list of Verdict
        One per claim, in the theorem's order.  Never raises for a failing
        claim or a failing run: those become ``VIOLATED`` or ``ERROR`` verdicts.
        Invalid theorems raise :class:`~dmfverify.errors.InvalidTheorem`.
    """
    options = options or CheckOptions()
    started = time.perf_counter()

    def every(outcome: Outcome, reason: str, arithmetic: str = "", precision: str = "") -> list[Verdict]:
        return [
            Verdict(theorem.id, claim.name, instance.id, outcome, arithmetic=arithmetic, precision=precision, reason=reason, status=theorem.status)
            for claim in theorem.claims
        ]

    missing = [name for name in theorem.requires if not _has_field(instance, name)]
    if missing:
        return every(Outcome.VACUOUS, f"the instance gives no {', '.join(missing)}")

    try:
        context = build_context(instance, options)
    except DmfverifyError as error:
        return every(Outcome.ERROR, str(error))

    derived_names = {derived.name for derived in theorem.derived}
    early = [hyp for hyp in theorem.hypotheses if not (sym.free_names(hyp.condition) & derived_names)]
    late = [hyp for hyp in theorem.hypotheses if sym.free_names(hyp.condition) & derived_names]
    corner_problem = None
    try:
        _evaluate_derived(theorem, context)
        try:
            _make_corners(theorem, context)
        except (_Vacuous, InvalidArgument, ValueError, ZeroDivisionError) as error:
            corner_problem = str(error)
            context.corners = []
    except (_Vacuous, InvalidArgument, ValueError, ZeroDivisionError):
        # A derived quantity outside its domain: the hypotheses below say which one fails.
        context.corners = []
    try:
        _check_hypotheses(early, context)
        _evaluate_derived(theorem, context)
        _check_hypotheses(late, context)
    except _Vacuous as vacuous:
        return every(Outcome.VACUOUS, str(vacuous))
    except _Undecided as undecided:
        return every(Outcome.INCONCLUSIVE, f"hypothesis undecided: {undecided}")
    except (InvalidArgument, ValueError, ZeroDivisionError) as error:
        return every(Outcome.ERROR, f"a derived quantity could not be evaluated: {error}")
    if corner_problem is not None:
        return every(Outcome.INCONCLUSIVE, f"a derived quantity cannot be evaluated everywhere inside the enclosures of the eigenvalues and sigma: {corner_problem}")

    per_claim: dict[str, list[_Check]] = {}
    for claim in theorem.claims:
        try:
            checks = _expand(claim, context)
        except _Vacuous as vacuous:
            checks = [_Check(claim, None, outcome=Outcome.VACUOUS, reason=str(vacuous))]
        for item in checks:
            if item.outcome is None:
                try:
                    _prepare(item, context)
                except (InvalidArgument, InvalidTheorem, ValueError, ZeroDivisionError) as error:
                    item.outcome, item.reason = Outcome.ERROR, f"bound could not be evaluated: {error}"
        per_claim[claim.name] = checks

    pending = [item for checks in per_claim.values() for item in checks if item.outcome is None]
    arithmetic, precision = "", ""
    if pending:
        arithmetic, precision = _run_and_judge(pending, context, instance, options)

    verdicts = [_summarise(theorem, instance, name, checks, arithmetic, precision) for name, checks in per_claim.items()]
    logger.info("checked %s on %s in %.2f s", theorem.id, instance.id, time.perf_counter() - started)
    return verdicts


def _has_field(instance: Instance, name: str) -> bool:
    if name == "noise":
        return not instance.is_noiseless
    if name == "thresholds":
        return bool(instance.thresholds)
    return getattr(instance, name) is not None


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


def _run_and_judge(pending: list[_Check], context: Context, instance: Instance, options: CheckOptions) -> tuple[str, str]:
    default = _default_horizon(context)
    with mpmath.workdps(context.dps + 15):
        horizon = max(_needed_horizon(item, context, default) for item in pending)
    horizon = max(horizon, 1)
    if horizon > options.budget:
        message = (
            f"the run needs about {horizon} steps, more than the budget of {options.budget}; "
            "raise the budget (--budget) or use a larger alpha or eta"
        )
        for item in pending:
            item.outcome, item.reason = Outcome.ERROR, message
        return "", ""

    levels: dict[int, set[Fraction]] = {}
    for item in pending:
        if item.level is not None and item.index:
            levels.setdefault(item.index - 1, set()).add(item.level)
        if item.level_high is not None and item.index:
            levels.setdefault(item.index - 1, set()).add(item.level_high)
        if isinstance(item.claim, ObservableBound):
            for index, values in OBSERVABLES[item.claim.observable].levels(context, item, dict(item.claim.options)).items():
                levels.setdefault(index, set()).update(values)

    snapshot_steps: set[int] = set()
    for item in pending:
        if isinstance(item.claim, ObservableBound):
            snapshot_steps |= OBSERVABLES[item.claim.observable].snapshots(context, item, dict(item.claim.options), horizon)

    plan = [("certified", 53)] + [("certified", bits) for bits in (128, 256, 512, 1024) if bits <= options.max_bits]
    undecided = pending
    arithmetic_used, precision_used = "", ""
    for arithmetic, bits in plan:
        try:
            run = _simulate(instance, horizon, arithmetic, bits, options, levels, snapshot_steps, undecided, context)
        except CertificationError as error:
            for item in undecided:
                item.outcome, item.reason = Outcome.INCONCLUSIVE, f"{error}"
            return "certified", f"{bits} bits"
        except DivergenceError as error:
            for item in undecided:
                item.outcome, item.reason = Outcome.ERROR, str(error)
            return "certified", f"{bits} bits"
        except BudgetExceeded as error:
            for item in undecided:
                item.outcome, item.reason = Outcome.ERROR, str(error)
            return "certified", f"{bits} bits"

        context.run = run
        logger.info("%s: judged %d checks at %d bits, horizon %d", instance.id, len(undecided), bits, horizon)
        for item in undecided:
            item.outcome = None
            item.extra["precision"] = f"{run.precision} {run.precision_unit}"
            try:
                # Compare bounds and errors at the working precision: outside a precision context
                # mpmath would round ``bound - error`` to 53 bits and lose the error estimate.
                with mpmath.workdps(context.dps + 15):
                    _judge(item, run, context)
            except DmfverifyError as error:
                item.outcome, item.reason = Outcome.ERROR, f"the check failed: {error}"
        arithmetic_used, precision_used = "certified", f"{run.precision} {run.precision_unit}"
        undecided = [item for item in undecided
                     if item.outcome is Outcome.INCONCLUSIVE and "hypothesis" not in item.reason and not item.extra.get("no_escalation")]
        if not undecided:
            break
        logger.info("%d checks undecided at %d bits; escalating", len(undecided), bits)
        with mpmath.workdps(context.dps + 15):
            horizon = max(max(_needed_horizon(item, context, default) for item in undecided), 1)
    return arithmetic_used, precision_used


def _simulate(instance, horizon, arithmetic, bits, options, levels, snapshot_steps, items, context) -> ScalarRun:
    anchored = [item for item in items if isinstance(item.claim, StepValueBound)]
    indices = _indices_needed(items, instance)
    levels = {index: values for index, values in levels.items() if index in indices}
    run = simulate_scalar(instance, horizon, arithmetic=arithmetic, bits=bits, levels=levels, snapshot_steps=snapshot_steps, indices=indices)
    if not anchored:
        return run

    extra_steps = set(snapshot_steps)
    extended = horizon
    for item in anchored:
        scope = context.scope(item.index, item.extra.get("u"))
        anchor_step = 0
        if item.level is not None:
            _, latest = run.hitting_time(item.index - 1, item.level)
            if latest is None:
                item.extra["no_anchor"] = True
                continue
            anchor_step = latest
        base, _ = _evaluate(item.claim.anchor, context, dict(scope, K=anchor_step))
        base = int(mpmath.ceil(base))
        steps = [(base + int(offset), anchor_step) for offset in item.claim.sweep]
        item.extra["steps"] = steps
        item.extra["anchor_step"] = base
        extra_steps |= {step for step, _ in steps}
        extended = max(extended, max(step for step, _ in steps))
    if extended > options.budget:
        raise BudgetExceeded(f"the anchored steps need {extended} steps, more than the budget of {options.budget}", extended, options.budget)
    return simulate_scalar(instance, extended, arithmetic=arithmetic, bits=bits, levels=levels, snapshot_steps=extra_steps, indices=indices)


def _indices_needed(items: list[_Check], instance: Instance) -> set[int]:
    """Return the 0-based eigenvalue indices the checks read (all of them for observables)."""
    needed: set[int] = set()
    for item in items:
        if isinstance(item.claim, ObservableBound):
            open_indices = item.extra.get("open_indices")
            needed |= set(open_indices) if open_indices else set(range(instance.n))
        elif item.index:
            needed.add(item.index - 1)
        else:
            needed |= set(range(instance.n))
    return needed


def _judge(item: _Check, run: ScalarRun, context: Context) -> None:
    claim = item.claim
    if isinstance(claim, HittingTimeBound):
        _judge_hitting(item, run)
    elif isinstance(claim, WindowBound):
        _judge_window(item, run)
    elif isinstance(claim, StepValueBound):
        if item.extra.get("no_anchor"):
            _undecided(item, "the anchor level was not surely reached within the run")
        else:
            _judge_step_values(item, run, context)
    else:
        _judge_observable(item, run, context)


def _summarise(theorem: Theorem, instance: Instance, name: str, checks: list[_Check], arithmetic: str, precision: str) -> Verdict:
    outcome = worst(item.outcome for item in checks)
    relevant = [item for item in checks if item.outcome is outcome]
    with_margin = [item for item in relevant if item.margin is not None]
    chosen = min(with_margin, key=lambda item: item.margin) if with_margin else relevant[0]

    counts = {}
    for item in checks:
        counts[str(item.outcome)] = counts.get(str(item.outcome), 0) + 1
    summary = ", ".join(f"{count} {label}" for label, count in sorted(counts.items()))
    where = ""
    if chosen.index:
        where = f"i = {chosen.index}"
        if chosen.extra.get("u") is not None:
            where += f", u = {_show(chosen.extra['u'])}"
        where = f" [{where}]"
    reason = f"{chosen.reason}{where} ({summary} of {len(checks)} checks)"

    used_precision = chosen.extra.get("precision", precision)
    return Verdict(
        theorem=theorem.id,
        claim=name,
        instance=instance.id,
        verdict=outcome,
        observed=_plain(chosen.observed),
        bound=_plain(chosen.bound),
        margin=chosen.margin,
        tightness=chosen.tightness,
        arithmetic=chosen.extra.get("arithmetic", arithmetic) if outcome not in (Outcome.VACUOUS,) else "",
        precision=used_precision if outcome not in (Outcome.VACUOUS,) else "",
        reason=reason,
        status=theorem.status,
        checks=[_check_record(item) for item in checks],
    )


def _plain(value):
    if value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Fraction):
        return float(value)
    return float(value)


def _check_record(item: _Check) -> dict[str, Any]:
    return {
        "i": item.index,
        "u": None if item.extra.get("u") is None else float(item.extra["u"]),
        "level": None if item.level is None else float(item.level),
        "verdict": str(item.outcome),
        "observed": _plain(item.observed),
        "bound": _plain(item.bound),
        "margin": item.margin,
        "reason": item.reason,
    }


def check_many(theorems: Iterable[Theorem], instances: Iterable[Instance], options: CheckOptions | None = None) -> list[Verdict]:
    """Check every theorem on every instance; returns all verdicts in order."""
    instances = list(instances)
    verdicts = []
    for theorem in theorems:
        for instance in instances:
            verdicts.extend(check(theorem, instance, options))
    return verdicts


def derived_values(theorem: Theorem, instance: Instance, overrides: dict[str, Any] | None = None,
                   options: CheckOptions | None = None) -> dict[str, Any] | None:
    """Evaluate a theorem's hypotheses and derived quantities on an instance.

    ``overrides`` replaces parameter values (for example ``{"sigma": Fraction(1, 10)}``
    to ask what the theorem would guarantee at another noise level).  Returns the
    derived values as Fractions, with the key ``"hypotheses_hold"`` telling whether
    every hypothesis holds, or None when a derived quantity cannot be evaluated.
    """
    options = options or CheckOptions()
    context = build_context(instance, options)
    context.values.update(overrides or {})
    derived_names = {derived.name for derived in theorem.derived}
    early = [hyp for hyp in theorem.hypotheses if not (sym.free_names(hyp.condition) & derived_names)]
    late = [hyp for hyp in theorem.hypotheses if sym.free_names(hyp.condition) & derived_names]
    holds = True
    try:
        _check_hypotheses(early, context)
    except (_Vacuous, _Undecided):
        holds = False
    try:
        _evaluate_derived(theorem, context)
    except (_Vacuous, InvalidArgument, ValueError, ZeroDivisionError):
        return None
    if holds:
        try:
            _check_hypotheses(late, context)
        except (_Vacuous, _Undecided):
            holds = False
    result = dict(context.derived)
    result["hypotheses_hold"] = holds
    return result
