"""Observed quantities of one instance, in the key names of the instance files' ``expected`` section.

:func:`observe` runs an engine and returns the hitting times of the instance's
thresholds, and for low-rank-phase instances the learn and leak times and the
empirical interval ``[observed_T0, observed_T1)``: the first step at which every
top-``r`` eigenvalue is learned, and the first step at which another one
exceeds ``delta``.  Certified runs report integer ranges under
``certified_ranges``; a range wider than one step is never rounded.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

from dmfverify.errors import BudgetExceeded, DmfverifyError, InvalidArgument, NumericalWarning
from dmfverify.instance import Instance
from dmfverify.hitting_time import estimate_hitting_time
from dmfverify.scalar_engine import simulate_scalar
from dmfverify.spectrum import noise_norm, target_spectrum

__all__ = ["observe", "tracked_levels", "estimate_horizon"]

#: Largest horizon chosen automatically; pass ``horizon=`` for more.
DEFAULT_BUDGET = 5_000_000


def tracked_levels(instance: Instance) -> dict[int, list[Fraction]]:
    """Return the levels to track per eigenvalue index (0-based): thresholds, learn levels and the leak level."""
    n = instance.n
    levels = {index: list(instance.thresholds) for index in range(n)}
    if instance.rank is not None:
        truth = _sorted_ground_truth(instance)
        sigma = noise_norm(instance)[1] if not instance.is_noiseless else Fraction(0)
        sigma_mid = (noise_norm(instance)[0] + sigma) / 2 if not instance.is_noiseless else Fraction(0)
        for index in range(instance.rank):
            if instance.eps is not None:
                levels[index].append((1 - instance.eps) * (truth[index] - sigma_mid))
        for index in range(instance.rank, n):
            if instance.delta is not None:
                levels[index].append(instance.delta)
    return levels


def _sorted_ground_truth(instance: Instance) -> list[Fraction]:
    from dmfverify.spectrum import ground_truth_spectrum

    return list(ground_truth_spectrum(instance).values)


def estimate_horizon(instance: Instance, levels: dict[int, list[Fraction]], budget: int = DEFAULT_BUDGET) -> int:
    """Estimate the steps needed to reach every reachable tracked level, with a 50% margin.

    Raises
    ------
    BudgetExceeded
        If the estimate exceeds ``budget``; the message gives the estimate.
    """
    spectrum = target_spectrum(instance)
    largest = 10.0
    for index, values in levels.items():
        mu = spectrum.values[index]
        for level in values:
            if mu > 0 and instance.alpha**instance.depth < level < mu:
                with mpmath.workdps(20):
                    largest = max(largest, estimate_hitting_time(level, mu, instance.alpha, instance.eta, instance.depth))
    horizon = int(1.5 * largest) + 100 if math.isfinite(largest) and largest < budget else budget + 1
    if not math.isfinite(largest) or horizon > budget:
        raise BudgetExceeded(
            f"instance {instance.id!r} needs an estimated {horizon if math.isfinite(largest) else 'unbounded number of'} steps, "
            f"more than the budget of {budget}; pass a larger horizon explicitly, or use a larger alpha or eta.",
            horizon if math.isfinite(largest) else budget + 1,
            budget,
        )
    return horizon


def observe(instance: Instance, *, engine: str = "scalar", arithmetic: str = "certified", dps: int = 50, bits: int = 53,
            horizon: int | None = None) -> dict[str, Any]:
    """Simulate an instance and return its observed quantities as a JSON-ready dict."""
    levels = tracked_levels(instance)
    if horizon is None:
        horizon = estimate_horizon(instance, levels)

    if engine == "matrix":
        return _observe_matrix(instance, levels, horizon, arithmetic, dps)
    if engine != "scalar":
        raise InvalidArgument(f"engine = {engine!r} is unknown; use 'scalar' or 'matrix'.")

    run = simulate_scalar(instance, horizon, arithmetic=arithmetic, dps=dps, bits=bits, levels=levels)
    result: dict[str, Any] = {"instance": instance.id, "engine": "scalar", "arithmetic": arithmetic,
                              "precision": f"{run.precision} {run.precision_unit}", "horizon": horizon}
    ranges: dict[str, Any] = {}

    def first(index: int, level: Fraction) -> tuple[int | None, int | None]:
        return run.hitting_time(index, level)

    if instance.thresholds:
        pairs = [first(0, level) for level in instance.thresholds]
        result["hitting_times"] = [_single(pair) for pair in pairs]
        ranges["hitting_times"] = [list(pair) for pair in pairs]

    if instance.rank is not None:
        learn = [first(index, levels[index][-1]) for index in range(instance.rank)] if instance.eps is not None else []
        leak = [first(index, levels[index][-1]) for index in range(instance.rank, instance.n)] if instance.delta is not None else []
        key = "learn_times" if instance.is_noiseless else "learn_times_to_(1-eps)(lambda_i-sigma)"
        result[key] = [_single(pair) for pair in learn]
        result["leak_times"] = [_single(pair) for pair in leak]
        ranges["learn_times"] = [list(pair) for pair in learn]
        ranges["leak_times"] = [list(pair) for pair in leak]
        if learn and all(pair[1] is not None for pair in learn):
            result["observed_T0"] = _single((max(p[0] for p in learn), max(p[1] for p in learn)))
        if leak:
            reached = [pair for pair in leak if pair[0] is not None]
            result["observed_T1"] = _single((min(p[0] for p in reached), min((p[1] for p in reached if p[1] is not None), default=None))) if reached else None

    if not instance.is_noiseless:
        spectrum = target_spectrum(instance, dps=max(dps, 40))
        low, high = noise_norm(instance, dps=max(dps, 40))
        with mpmath.workdps(max(dps, 40)):
            result["perturbed_eigenvalues"] = [mpmath.nstr(mpmath.mpf(v.numerator) / v.denominator, 30) for v in spectrum.values]
            middle = (low + high) / 2
            result["sigma"] = mpmath.nstr(mpmath.mpf(middle.numerator) / middle.denominator, 30)

    if arithmetic == "certified":
        result["certified_ranges"] = ranges
    elif arithmetic == "float64":
        _flag_float64_differences(instance, horizon, levels, run, result)
    return result


def _flag_float64_differences(instance: Instance, horizon: int, levels, run, result: dict[str, Any]) -> None:
    """Compare a float64 run with a certified one and warn about every hitting time that differs."""
    try:
        certified = simulate_scalar(instance, horizon, arithmetic="certified", levels=levels)
    except DmfverifyError as error:
        result["float64_unverified"] = f"no certified run to compare with: {error}"
        return

    differences = []
    for index, values in levels.items():
        for level in values:
            plain = run.hitting_time(index, level)[0]
            earliest, latest = certified.hitting_time(index, level)
            if plain is None:
                consistent = latest is None
            else:
                consistent = earliest is not None and earliest <= plain and (latest is None or plain <= latest)
            if not consistent:
                differences.append({"index": index + 1, "level": float(level), "float64": plain, "certified": [earliest, latest]})
    if differences:
        result["float64_differs_from_certified"] = differences
        warnings.warn(
            f"float64 hitting times of {instance.id!r} differ from the certified ones at {len(differences)} level(s); "
            "use --arithmetic certified for trustworthy values.",
            NumericalWarning,
            stacklevel=3,
        )


def _single(pair):
    earliest, latest = pair
    if earliest is not None and earliest == latest:
        return earliest
    if earliest is None:
        return None
    return [earliest, latest]


def _observe_matrix(instance: Instance, levels, horizon: int, arithmetic: str, dps: int) -> dict[str, Any]:
    from dmfverify.matrix_engine import run_matrix_gd

    if arithmetic == "certified":
        raise InvalidArgument("the matrix engine has no certified arithmetic; use --arithmetic float64 or mpmath.")
    if horizon > 200_000:
        raise BudgetExceeded(f"the matrix engine would need {horizon} steps, more than its limit of 200000; use the scalar engine.", horizon, 200_000)
    target = instance.target_array() if arithmetic == "float64" else [[str(x) for x in row] for row in _fraction_strings(instance)]
    run = run_matrix_gd(target, instance.depth, float(instance.eta) if arithmetic == "float64" else str(instance.eta),
                        instance.initialisation, float(instance.alpha) if arithmetic == "float64" else str(instance.alpha),
                        horizon, arithmetic=arithmetic, dps=dps, schedule="every")
    result: dict[str, Any] = {"instance": instance.id, "engine": "matrix", "arithmetic": arithmetic, "horizon": horizon}

    # A random or unbalanced start leaves W_N ... W_1 non-symmetric, so its eigenvalues may be complex:
    # the levels are then compared with the singular values, which converge to the target's eigenvalues.
    if run.symmetric:
        eigenvalues = np.asarray(run.eigenvalues, dtype=float)
    else:
        cause = ("its noise is not symmetric" if not instance.noise_is_symmetric
                 else f"the {instance.initialisation.kind!r} initialisation does not keep W_N ... W_1 symmetric")
        eigenvalues = np.asarray(run.singular_values, dtype=float)
        result["observed_spectrum"] = f"singular values: the product is not symmetric ({cause})"

    def first(index: int, level: Fraction):
        hits = np.nonzero(eigenvalues[:, index] >= float(level))[0]
        return int(run.steps[hits[0]]) if hits.size else None

    if instance.thresholds:
        result["hitting_times"] = [first(0, level) for level in instance.thresholds]
    if instance.rank is not None:
        learn = [first(index, levels[index][-1]) for index in range(instance.rank)]
        leak = [first(index, levels[index][-1]) for index in range(instance.rank, instance.n)]
        # The same key as the scalar engine: with noise the learn level is (1 - eps)(lambda_i - sigma).
        result["learn_times" if instance.is_noiseless else "learn_times_to_(1-eps)(lambda_i-sigma)"] = learn
        result["leak_times"] = leak
        if learn and None not in learn:
            result["observed_T0"] = max(learn)
        reached = [value for value in leak if value is not None]
        result["observed_T1"] = min(reached) if reached else None
    return result


def _fraction_strings(instance: Instance):
    return [[f"{entry.numerator}/{entry.denominator}" for entry in row] for row in instance.target_matrix()]
