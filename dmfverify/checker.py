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

Steps 1 and 2 live in :mod:`dmfverify.check_context`, the comparisons of step 5
in :mod:`dmfverify.judging`; this module expands the claims, runs the engines
and summarises.
"""

from __future__ import annotations

import logging
import math
import time
from fractions import Fraction
from typing import Any, Iterable

import mpmath
import sympy

from dmfverify import symbolic as sym
from dmfverify.check_context import (
    CheckOptions,
    Context,
    _check_hypotheses,
    _evaluate,
    _evaluate_derived,
    _evaluate_uncertain,
    _exact_or_rounded,
    _level_interval,
    _make_corners,
    _Undecided,
    _Vacuous,
    build_context,
)
from dmfverify.errors import BudgetExceeded, CertificationError, DivergenceError, DmfverifyError, InvalidArgument, InvalidTheorem
from dmfverify.instance import Instance
from dmfverify.judging import _Check, _judge, _show
from dmfverify.observable_registry import OBSERVABLES
from dmfverify.scalar_engine import ScalarRun, simulate_scalar
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


# ------------------------------------------------------------------ expansion


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
    from dmfverify.hitting_time import estimate_hitting_time

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


# ----------------------------------------------------------------------- main


def check(theorem: Theorem | str, instance: Instance, options: CheckOptions | None = None) -> list[Verdict]:
    """Judge every claim of ``theorem`` on ``instance``.

    Parameters
    ----------
    theorem : Theorem or str
        A theorem, or the id of one in the built-in catalog (``"H1"``).
    instance : Instance
        The instance to judge it on.
    options : CheckOptions, optional
        Precision, escalation cap and step budget (default :class:`CheckOptions`).

    Returns
    -------
    list of Verdict
        One per claim, in the theorem's order.  Never raises for a failing
        claim or a failing run: those become ``VIOLATED`` or ``ERROR`` verdicts.
        Invalid theorems raise :class:`~dmfverify.errors.InvalidTheorem`.
    """
    if isinstance(theorem, str):
        from dmfverify.theorem_loader import builtin_theorems, select

        theorem = select(builtin_theorems(), [theorem])[0]
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
        return every(Outcome.ERROR, f"a derived quantity could not be evaluated: {_describe(error)}")
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
                    item.outcome, item.reason = Outcome.ERROR, f"bound could not be evaluated: {_describe(error)}"
        per_claim[claim.name] = checks

    pending = [item for checks in per_claim.values() for item in checks if item.outcome is None]
    arithmetic, precision = "", ""
    if pending:
        arithmetic, precision = _run_and_judge(pending, context, instance, options)

    verdicts = [_summarise(theorem, instance, name, checks, arithmetic, precision) for name, checks in per_claim.items()]
    logger.info("checked %s on %s in %.2f s", theorem.id, instance.id, time.perf_counter() - started)
    return verdicts


def _describe(error: Exception) -> str:
    """Return an exception's message, or its type when the message is empty (as for a bare ZeroDivisionError)."""
    return str(error) or f"{type(error).__name__} (no message)"


def _has_field(instance: Instance, name: str) -> bool:
    if name == "noise":
        return not instance.is_noiseless
    if name == "thresholds":
        return bool(instance.thresholds)
    return getattr(instance, name) is not None


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
