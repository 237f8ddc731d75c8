"""Observables computed from spectra or whole trajectories, for :class:`~dmfverify.theorem.ObservableBound` claims.

Each observable is registered under a name and provides:

``compute(context, check, options) -> Enclosure``
    An enclosure ``[low, high]`` of the observed value.
``horizon(context, check, options, default) -> int``
    The last step it needs (0 when it needs no run).
``levels(context, check, options) -> {index: levels}`` and
``snapshots(context, check, options, horizon) -> set of steps``
    What the run must record for it.

Register your own with :func:`observable`; the theorem then names it in
``ObservableBound(observable="name", ...)``.

Observables that scan every step of a window read the run's snapshots, so the
window is capped at ``MAX_SCANNED_STEPS`` steps; a longer window gives an
inconclusive verdict rather than a partial scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import mpmath
import numpy as np

from dmfverify.errors import InvalidTheorem

__all__ = ["Enclosure", "Observable", "observable", "OBSERVABLES", "MAX_SCANNED_STEPS", "erank_of"]

#: Longest run of steps an observable scans step by step from the start of a run.
MAX_SCANNED_STEPS = 20_000

#: Largest number of (step, eigenvalue) values a window scan may hold in memory.
MAX_SCANNED_VALUES = 20_000_000


@dataclass(frozen=True)
class Enclosure:
    """An observed value known to lie in ``[low, high]``, with a note on how it was obtained.

    ``open_indices`` names the eigenvalue indices (0-based) whose trajectories
    left the comparison open; the checker escalates the precision of those rows only.
    """

    low: Any
    high: Any
    note: str = ""
    open_indices: frozenset[int] | None = None


@dataclass(frozen=True)
class Observable:
    """A registered observable (see the module docstring for the four functions)."""

    name: str
    compute: Callable
    horizon: Callable
    levels: Callable
    snapshots: Callable
    description: str = ""
    scaling: int | None = None


OBSERVABLES: dict[str, Observable] = {}


def _no_levels(context, check, options):
    return {}


def _no_snapshots(context, check, options, horizon):
    return set()


def _no_horizon(context, check, options, default):
    return 0


def observable(name: str, *, horizon=_no_horizon, levels=_no_levels, snapshots=_no_snapshots, description: str = "",
               scaling: int | None = None):
    """Register ``compute`` as the observable ``name`` (decorator).

    ``scaling`` is the power of ``c`` by which the observable scales when the
    spectrum is multiplied by ``c`` (1 for eigenvalue errors, 0 for angles and
    effective ranks); the invariance check uses it, and skips observables without it.

    >>> @observable("zero_example", description="always 0")
    ... def zero_example(context, check, options):
    ...     return Enclosure(0, 0, "exact")
    >>> "zero_example" in OBSERVABLES
    True
    """

    def register(compute):
        if name in OBSERVABLES and OBSERVABLES[name].compute is not compute:
            raise InvalidTheorem(f"observable {name!r} is already registered; pick another name.")
        OBSERVABLES[name] = Observable(name, compute, horizon, levels, snapshots, description or (compute.__doc__ or "").strip(), scaling)
        return compute

    return register


def _mpf(value: Fraction) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator


# ------------------------------------------------------------ spectral limits


@observable("limit_eigenvalue_error", scaling=1, description="max_i |max(mu_i, 0) - lambda_i|: eigenvalue error of the limit (Mhat)_+")
def limit_eigenvalue_error(context, check, options) -> Enclosure:
    """Return ``max_i |max(mu_i, 0) - lambda_i|`` with the eigenvalue enclosure radii."""
    mu = context.arrays["mu"]
    lam = context.arrays["lambda"]
    radii = context.values["_radii"]
    errors = [abs(max(a, Fraction(0)) - b) for a, b in zip(mu, lam)]
    slack = [radius_mu + radius_lambda for radius_mu, radius_lambda in zip(radii["mu"], radii["lambda"])]
    low = max(max(error - radius, Fraction(0)) for error, radius in zip(errors, slack))
    high = max(error + radius for error, radius in zip(errors, slack))
    return Enclosure(low, high, "from certified eigenvalue enclosures")


@observable("limit_frobenius_error", scaling=1, description="||(Mhat)_+ - M||_F: Frobenius error of the gradient-descent limit")
def limit_frobenius_error(context, check, options) -> Enclosure:
    """Return ``||(Mhat)_+ - M||_F`` computed in mpmath (error estimated from the precision)."""
    instance = context.instance
    with mpmath.workdps(context.dps + 10):
        value = _limit_frobenius(instance, context.dps + 10)
        error = abs(value) * mpmath.mpf(10) ** (8 - context.dps) + mpmath.mpf(10) ** (-context.dps)
        return Enclosure(value - error, value + error, "mpmath eigendecomposition; error estimated, not certified")


def _limit_frobenius(instance, dps) -> mpmath.mpf:
    from dmfverify.spectrum import target_spectrum

    spectrum = target_spectrum(instance, dps=dps)
    n = instance.n
    truth = instance.ground_truth_matrix()
    if spectrum.vectors is None:
        positive = {spectrum.order[j]: max(spectrum.values[j], Fraction(0)) for j in range(n)}
        total = Fraction(0)
        for a in range(n):
            for b in range(n):
                limit = positive[a] if a == b else Fraction(0)
                total += (limit - truth[a][b]) ** 2
        return mpmath.sqrt(_mpf(total))
    vectors = mpmath.matrix(n, n)
    for column, values in enumerate(spectrum.vectors):
        for row, value in enumerate(values):
            vectors[row, column] = value
    clipped = mpmath.diag([max(_mpf(value), 0) for value in spectrum.values])
    limit = vectors * clipped * vectors.T
    difference = limit - mpmath.matrix([[_mpf(entry) for entry in row] for row in truth])
    return mpmath.mnorm(difference, "f")


@observable("sin_theta_top_r", scaling=0, description="||sin Theta(U_r(Mhat), U_r(M))||_2 between top-r eigenspaces of target and ground truth")
def sin_theta_top_r(context, check, options) -> Enclosure:
    """Return the largest principal-angle sine between the top-``r`` eigenspaces of ``Mhat`` and ``M``."""
    from dmfverify.spectrum import ground_truth_spectrum, target_spectrum

    instance = context.instance
    rank = instance.rank
    with mpmath.workdps(context.dps + 10):
        target = _eigenvectors(target_spectrum(instance, dps=context.dps), instance.n)
        truth = _eigenvectors(ground_truth_spectrum(instance, dps=context.dps), instance.n)
        top = target[:, :rank]
        complement = truth[:, rank:]
        cross = complement.T * top
        if cross.rows == 0 or cross.cols == 0:
            return Enclosure(0, 0, "the complement is empty")
        singular = mpmath.svd_r(cross, compute_uv=False)
        value = max(singular[j] for j in range(len(singular)))
        error = mpmath.mpf(10) ** (8 - context.dps)
        return Enclosure(max(value - error, 0), value + error, "mpmath eigenvectors; error estimated, not certified")


def _eigenvectors(spectrum, n: int) -> mpmath.matrix:
    vectors = mpmath.matrix(n, n)
    if spectrum.vectors is None:
        for column, row in enumerate(spectrum.order):
            vectors[row, column] = 1
        return vectors
    for column, values in enumerate(spectrum.vectors):
        for row, value in enumerate(values):
            vectors[row, column] = value
    return vectors


# ------------------------------------------------------------ trajectory scans


def erank_of(values: np.ndarray) -> float:
    """Return the entropy effective rank ``exp(-sum q ln q)``, ``q = p / sum p`` over positive ``p`` (0 for none)."""
    positive = values[values > 0]
    if positive.size == 0:
        return 0.0
    weights = positive / positive.sum()
    return float(np.exp(-np.sum(weights * np.log(weights))))


def _erank_rows(values: np.ndarray) -> np.ndarray:
    """Return :func:`erank_of` of every row of a 2-D array, vectorised."""
    positive = np.where(values > 0, values, 0.0)
    totals = positive.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(totals > 0, positive / totals, 0.0)
        terms = np.where(weights > 0, weights * np.log(np.where(weights > 0, weights, 1.0)), 0.0)
    result = np.exp(-terms.sum(axis=1))
    result[totals[:, 0] == 0] = 0.0
    return result


def _window(context, check, options) -> tuple[int, int]:
    start = int(mpmath.ceil(_mpf(Fraction(context.derived[options.get("start", "k_start")]))))
    stop = int(mpmath.ceil(_mpf(Fraction(context.derived[options.get("stop", "k_end")]))))
    return max(start, 0), stop


def _window_horizon(context, check, options, default):
    if "start" in options or "k_start" in context.derived:
        return _window(context, check, options)[1]
    return min(default, MAX_SCANNED_STEPS)


def _window_snapshots(context, check, options, horizon):
    if "start" in options or "k_start" in context.derived:
        start, stop = _window(context, check, options)
        if (stop - start) * context.instance.n > MAX_SCANNED_VALUES:
            return set()
        return set(range(start, stop))
    return set(range(0, min(horizon, MAX_SCANNED_STEPS) + 1))


def _erank_bounds(context, steps) -> tuple[np.ndarray, np.ndarray]:
    """Return erank at every step with an error estimate from the enclosure widths of ``p``."""
    run = context.run
    n = context.instance.n
    steps = np.asarray(steps, dtype=np.int64)
    lows = np.empty((len(steps), n))
    highs = np.empty((len(steps), n))
    for column in range(n):
        recorded, low, high = run.record(column).snapshots.arrays()
        positions = np.searchsorted(recorded, steps)
        if np.any(positions >= len(recorded)) or np.any(recorded[np.minimum(positions, len(recorded) - 1)] != steps):
            from dmfverify.judging import _Undecidable

            raise _Undecidable("the run did not record every step of the scanned window")
        lows[:, column], highs[:, column] = low[positions], high[positions]
    middle = (lows + highs) / 2
    values = _erank_rows(middle)
    spread = np.abs(_erank_rows(lows) - _erank_rows(highs))
    error = 10 * spread + 1e-12 * np.maximum(values, 1.0)
    # With one positive eigenvalue the effective rank is exactly 1, whatever the rounding.
    single = (np.count_nonzero(lows > 0, axis=1) <= 1) & (np.count_nonzero(highs > 0, axis=1) <= 1)
    error[single] = 0.0
    return values - error, values + error


@observable(
    "erank_window_deviation",
    scaling=0,
    horizon=_window_horizon,
    snapshots=_window_snapshots,
    description="max over k in [k_start, k_end) of |erank(W(k)) - erank(M_r)|",
)
def erank_window_deviation(context, check, options) -> Enclosure:
    """Return ``max_k |erank(W(k)) - erank(M_r)|`` over the window, scanning every step."""
    from dmfverify.judging import _Undecidable

    start, stop = _window(context, check, options)
    if stop <= start:
        return Enclosure(0, 0, "empty window")
    if (stop - start) * context.instance.n > MAX_SCANNED_VALUES:
        raise _Undecidable(f"the window [{start}, {stop}) holds more than {MAX_SCANNED_VALUES} values of p_i(k), too many to scan")
    rank = context.instance.rank
    top = np.array([float(value) for value in context.arrays["mu"][:rank]])
    reference = erank_of(top)
    low, high = _erank_bounds(context, list(range(start, stop)))
    deviation_high = np.maximum(np.abs(high - reference), np.abs(low - reference)).max()
    deviation_low = np.maximum(0.0, np.maximum(low - reference, reference - high)).max()
    return Enclosure(float(deviation_low), float(deviation_high), f"scanned {stop - start} steps; float64 effective ranks with an error estimate")


@observable(
    "erank_decrease_after_minimum",
    scaling=0,
    horizon=_window_horizon,
    snapshots=_window_snapshots,
    description="largest one-step decrease of erank(W(k)) after its minimum over the run",
)
def erank_decrease_after_minimum(context, check, options) -> Enclosure:
    """Return the largest ``erank(W(k)) - erank(W(k+1))`` for ``k`` after the minimum of the effective rank."""
    from dmfverify.judging import _Undecidable

    horizon = min(context.run.horizon, MAX_SCANNED_STEPS)
    steps = list(range(0, horizon + 1))
    if len(steps) < 2:
        raise _Undecidable("the run is too short to see the effective rank change")
    low, high = _erank_bounds(context, steps)
    middle = (low + high) / 2
    start = int(np.argmin(middle))
    if start >= len(steps) - 1:
        return Enclosure(-math.inf, 0.0, f"minimum at the last scanned step {steps[start]}")
    decrease_high = (high[start:-1] - low[start + 1:]).max()
    decreases_low = low[start:-1] - high[start + 1:]
    decrease_low = decreases_low.max()
    note = f"minimum at step {steps[start]}; scanned up to step {horizon}; float64 effective ranks with an error estimate"
    if decrease_low > 0:
        # A decrease after the minimum would refute the conjecture: confirm it with interval arithmetic.
        step = steps[start + int(np.argmax(decreases_low))]
        certified_low = _interval_erank(context, step)[0] - _interval_erank(context, step + 1)[1]
        if certified_low > 0:
            return Enclosure(certified_low, float(decrease_high), f"minimum at step {steps[start]}; erank(W({step})) - erank(W({step + 1})) "
                             f">= {mpmath.nstr(certified_low, 6)} in interval arithmetic from the certified eigenvalue enclosures")
    return Enclosure(float(decrease_low), float(decrease_high), note)


def _interval_erank(context, step: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """Enclose ``erank(W(step))`` rigorously with mpmath interval arithmetic on the enclosures of every ``p_i``."""
    from mpmath.ctx_iv import MPIntervalContext

    # A private interval context, so the precision set here changes nothing global.
    iv = MPIntervalContext()
    iv.dps = 30
    run = context.run
    values = []
    for index in range(context.instance.n):
        low, high = run.value(index, step)
        values.append(iv.mpf([str(_mpf_down_text(low)), str(_mpf_up_text(high))]))
    positive = [value for value in values if value.b > 0]
    if any(value.a <= 0 for value in positive):
        return mpmath.mpf("-inf"), mpmath.mpf("inf")
    total = iv.fsum(positive)
    entropy = -iv.fsum([(value / total) * iv.log(value / total) for value in positive])
    erank = iv.exp(entropy)
    return mpmath.mpf(erank.a), mpmath.mpf(erank.b)


def _mpf_down_text(value: Fraction) -> str:
    """Return a decimal string at most ``value`` (rounded down at 40 digits)."""
    with mpmath.workdps(40):
        return mpmath.nstr(_mpf(value) * (1 - mpmath.mpf(10) ** -35) if value > 0 else _mpf(value) * (1 + mpmath.mpf(10) ** -35), 40)


def _mpf_up_text(value: Fraction) -> str:
    """Return a decimal string at least ``value`` (rounded up at 40 digits)."""
    with mpmath.workdps(40):
        return mpmath.nstr(_mpf(value) * (1 + mpmath.mpf(10) ** -35) if value > 0 else _mpf(value) * (1 - mpmath.mpf(10) ** -35), 40)


#: Steps per pair compared in exact arithmetic when float64 bounds cannot order two trajectories.
MAX_REFINED_STEPS = 50_000


def _refine_order(upper_record, lower_record, steps, low, high):
    """Compare two trajectories exactly (from the run's own precision) on the steps float64 bounds leave open."""
    if len(steps) > MAX_REFINED_STEPS:
        return low, high
    exact_low = exact_high = None
    for step in steps.tolist():
        upper_low, upper_high = upper_record.snapshots[step]
        lower_low, lower_high = lower_record.snapshots[step]
        difference_low, difference_high = lower_low - upper_high, lower_high - upper_low
        exact_low = difference_low if exact_low is None else max(exact_low, difference_low)
        exact_high = difference_high if exact_high is None else max(exact_high, difference_high)
    if exact_high <= 0:
        return max(low, float(exact_low)), min(float(exact_high), 0.0)
    return max(low, float(exact_low)), max(float(exact_high), 0.0)


@observable(
    "order_violation",
    scaling=1,
    horizon=lambda context, check, options, default: min(default, MAX_SCANNED_STEPS),
    snapshots=lambda context, check, options, horizon: set(range(0, min(horizon, MAX_SCANNED_STEPS) + 1)),
    description="max over k and i of p_(i+1)(k) - p_i(k): positive when the eigenvalue order is broken",
)
def order_violation(context, check, options) -> Enclosure:
    """Return an enclosure of ``max_{k, i} (p_(i+1)(k) - p_i(k))`` over the scanned steps.

    Pairs whose eigenvalue enclosures overlap may be equal eigenvalues, whose
    trajectories coincide, or distinct ones in either order: they cannot be
    compared, so the upper end is then infinite (the check stays undecided)
    and the note says how many.
    Pairs decided at a lower precision keep their result when the checker
    escalates the precision of the remaining ones.
    """
    run = context.run
    n = context.instance.n
    horizon = min(run.horizon, MAX_SCANNED_STEPS)
    decided: dict[int, tuple[float, float]] = check.extra.setdefault("decided_pairs", {})
    bounds: dict[int, tuple[float, float]] = {}
    open_pairs: set[int] = set()
    skipped = 0
    ignored: set[int] = check.extra.setdefault("ignored_pairs", set())
    for index in range(n - 1):
        if index in decided:
            bounds[index] = decided[index]
            continue
        if index in ignored:
            skipped += 1
            continue
        if run.row_of[index] < 0 or run.row_of[index + 1] < 0:
            open_pairs.add(index)
            continue
        upper_record, lower_record = run.record(index), run.record(index + 1)
        if run.row_of[index] == run.row_of[index + 1]:
            decided[index] = (0.0, 0.0)
            bounds[index] = decided[index]
            continue
        if lower_record.mu[1] >= upper_record.mu[0]:
            ignored.add(index)
            skipped += 1
            continue
        steps_upper, upper_low, upper_high = upper_record.snapshots.arrays()
        steps_lower, lower_low, lower_high = lower_record.snapshots.arrays()
        keep = steps_upper <= horizon
        low = (lower_low - upper_high)[keep].max()
        high = (lower_high - upper_low)[keep].max()
        if high >= 0 and low < 0:
            open_steps = keep & (lower_high - upper_low >= 0)
            settled = (lower_high - upper_low)[keep & ~open_steps]
            low, high = _refine_order(upper_record, lower_record, steps_upper[open_steps], low, high)
            if settled.size:
                high = max(high, float(settled.max()))
        bounds[index] = (low, high)
        if high <= 0 or low > 0:
            decided[index] = (low, high)
        else:
            open_pairs.add(index)

    note = f"scanned steps 0..{horizon}"
    if skipped:
        note += f"; {skipped} pairs with overlapping eigenvalue enclosures (possibly equal) not compared"
    if open_pairs:
        note += f"; {len(open_pairs)} pairs undecided"
    if not bounds and not open_pairs:
        return Enclosure(0, 0, note + "; no pair of distinct eigenvalues")
    # Every trajectory starts at alpha^N, so the difference at step 0 is exactly 0 and the maximum is >= 0.
    low = max([0.0] + [pair_low for pair_low, _ in bounds.values()])
    unknown = [index for index in open_pairs if index not in bounds]
    high = math.inf if unknown or skipped else max([0.0] + [pair_high for _, pair_high in bounds.values()])
    open_indices = frozenset(j for index in open_pairs for j in (index, index + 1)) or None
    return Enclosure(low, high, note, open_indices)
