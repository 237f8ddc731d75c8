"""Judging one expanded check against a run: hitting times, windows, step values, observables.

Each judge compares what the run shows with the bound of one check and sets
its outcome.  The run's values are rigorous enclosures; a bound carries the
error estimate of :mod:`dmfverify.check_context`.  ``HOLDS`` and ``VIOLATED``
are given only when the enclosure and the bound's error keep the comparison
on one side.  Otherwise the check stays undecided: the checker retries it at
a higher precision or reports it ``INCONCLUSIVE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath
import sympy

from dmfverify import symbolic as sym
from dmfverify.check_context import Context, _evaluate, _evaluate_uncertain, _exact_value
from dmfverify.observable_registry import OBSERVABLES, Enclosure
from dmfverify.scalar_engine import ScalarRun
from dmfverify.theorem import HittingTimeBound, StepValueBound, WindowBound
from dmfverify.verdict import Outcome, worst


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


def _judge(item: _Check, run: ScalarRun, context: Context) -> None:
    claim = item.claim
    if isinstance(claim, HittingTimeBound):
        _judge_hitting(item, run, context)
    elif isinstance(claim, WindowBound):
        _judge_window(item, run)
    elif isinstance(claim, StepValueBound):
        if item.extra.get("no_anchor"):
            _undecided(item, "the anchor level was not surely reached within the run")
        else:
            _judge_step_values(item, run, context)
    else:
        _judge_observable(item, run, context)


def _judge_hitting(check: _Check, run: ScalarRun, context: Context) -> None:
    claim = check.claim
    # A higher level is reached later: the earliest step uses the lowest possible level, the latest the highest.
    earliest, _ = run.hitting_time(check.index - 1, check.level)
    _, latest = run.hitting_time(check.index - 1, check.level_high)
    bound, error = check.bound, check.bound_error

    # A rational bound of exact inputs is compared exactly with the integer step counts.
    exact_bound = _exact_bound(claim.bound, check, context)
    if exact_bound is not None:
        bound, error = exact_bound, Fraction(0)
        check.extra["exact_bound"] = True
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
    if check.extra.get("exact_bound") and check.outcome is not Outcome.INCONCLUSIVE:
        check.reason = f"{check.reason}, compared exactly in rationals"


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
            # The level was reached before the window (a trajectory falling from above it), so the first
            # hitting time gives no margin in steps for the window.
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

    exact_bound = None if estimated else _exact_bound(claim.bound, check, context)
    if exact_bound is not None and isinstance(enclosure.low, Fraction) and isinstance(enclosure.high, Fraction):
        # Rational ends against a rational bound of exact inputs: compared exactly, an equality holds.
        bound, error = exact_bound, Fraction(0)
    else:
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

    if exact_bound is not None and bound is exact_bound:
        check.reason = f"{check.reason}, compared exactly in rationals"
    if estimated and check.outcome is Outcome.VIOLATED:
        # A violation needs a certified error bound; an estimated one only makes it suspect.
        check.outcome = Outcome.INCONCLUSIVE
        check.reason = f"suspected violation, not certified: {check.reason}"
    if enclosure.note:
        check.reason = f"{check.reason}; {enclosure.note}" if check.reason else enclosure.note


def _exact_bound(expr, check: _Check, context: Context) -> Fraction | None:
    """Return a bound's exact rational value, or None unless every input it reads is exact.

    Inputs are exact when no eigenvalue or ``sigma`` carries an enclosure radius
    (the context has no corners) and the bound reads no derived quantity (those
    are stored rounded).
    """
    if context.corners or sym.free_names(sympy.sympify(expr)) & set(context.derived):
        return None
    return _exact_value(expr, context, context.scope(check.index, check.extra.get("u")))


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

    # The difference is taken before rounding to float, so a margin of 1e-20 on values near 1 is not shown as 0.
    if isinstance(bound, (Fraction, int)) and isinstance(observed, (Fraction, int)):
        difference = Fraction(bound) - Fraction(observed)
    else:
        with mpmath.workdps(60):
            difference = _as_mpf(bound) - _as_mpf(observed)
    check.margin = float(difference if relation == "<=" else -difference)
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
