"""The computations behind the report pages, each an independent task run in a worker process.

Every task is a module-level function, so that a ``spawn`` process pool can
pickle it by module and qualified name.  :func:`_guarded` runs one task and
turns an error of dmfverify into the result ``{"error": message}``.  The tasks
take their numbers from the checker, the scalar engine,
:mod:`dmfverify.simulation`, :mod:`dmfverify.phase`, :mod:`dmfverify.potential`
and :mod:`dmfverify.datasets`.  They compute the theorem verdicts on the
built-in library and certified enclosures of the product eigenvalues
``p_i(k) = x_i(k)^N``.  They compare the guaranteed interval ``[T0, T1)`` with
the observed one on a grid over ``(alpha, eta / eta_max)``, where ``eta_max``
solves ``S(lambda_1) = eta N lambda_1^(2 - 2/N) = 1``, and over the noise level
``sigma``.  They also compute the effective rank along a run and the digits
covariance with subsample noise.  The fixed problems of these sweeps
(:data:`PHASE_PROBLEM`, :data:`NOISE_PROBLEM`, :data:`ERANK_PROBLEM`,
:data:`DIGITS_PROBLEM`) are defined here.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dmfverify.catalog.convergence import E
from dmfverify.catalog.noiseless_phase import L1
from dmfverify.catalog.persistence import Q1
from dmfverify.catalog.perturbed import P2
from dmfverify.checker import check, derived_values
from dmfverify.cli import builtin_case_paths
from dmfverify.datasets import digits_instance
from dmfverify.errors import DmfverifyError, InvalidArgument
from dmfverify.instance import Instance, load_instance
from dmfverify.observable_registry import erank_of
from dmfverify.phase import rank_summary, sigma_max
from dmfverify.hitting_time import hitting_time_upper
from dmfverify.rounding import to_fraction_exact
from dmfverify.scalar_engine import simulate_scalar
from dmfverify.simulation import estimate_horizon, observe, tracked_levels
from dmfverify.spectrum import ground_truth_spectrum, noise_norm, target_spectrum
from dmfverify.step_size import max_step_size
from dmfverify.theorem_loader import builtin_theorems, select

__all__ = ["PHASE_PROBLEM", "NOISE_PROBLEM", "ERANK_PROBLEM", "DIGITS_PROBLEM"]


#: Fixed spectrum of the phase diagrams; the grid varies ``alpha`` and ``eta`` for each depth.
PHASE_PROBLEM = {"spectrum": ("1", "0.5", "0.25", "0.05"), "rank": 2, "eps": "0.05", "delta": "0.01",
                 "alpha_range": {2: ("0.0001", "0.15"), 3: ("0.002", "0.3"), 4: ("0.02", "0.45")}}

#: Noise sweep: the parameters of the library instance ``perturbed-depth3-rank2``, with a symmetric noise matrix of
#: one fixed direction (drawn with ``seed``) scaled to each spectral norm ``sigma``.
NOISE_PROBLEM = {"spectrum": ("1", "0.5", "0.1", "0.05"), "depth": 3, "alpha": "0.05", "eta": "0.1", "rank": 2,
                 "eps": "0.01", "delta": "0.01", "seed": 7, "largest_sigma": "0.3"}

#: Effective-rank staircase: one spectrum, one ``alpha`` per depth, ``eta`` half of ``eta_max``.
ERANK_PROBLEM = {"spectrum": ("1", "0.4", "0.15", "0.05"), "rank": 2, "delta": "0.001",
                 "alpha": {2: "0.0001", 3: "0.005", 4: "0.05", 5: "0.1"}}

#: Real data: digits covariance, normalised so that ``lambda_1 = 1``.  This ``eta`` satisfies
#: ``S(lambda_1 + sigma) = 0.3 (1 + sigma)^(4/3) <= 1`` for every ``sigma <= 1.46``.
DIGITS_PROBLEM = {"depth": 3, "alpha": "0.01", "eta": "0.1", "eps": "0.05", "delta": "0.01", "images": 1797}


# ----------------------------------------------------------------- helpers


def _case_path(name: str) -> Path:
    for path in builtin_case_paths():
        if path.stem == name:
            return path
    names = ", ".join(path.stem for path in builtin_case_paths())
    raise InvalidArgument(f"built-in instance {name!r} was not found; use one of {names}.")


def _fraction(value: Any) -> Fraction:
    return Fraction(str(value)) if isinstance(value, str) else Fraction(value)


def _decimal(value: float) -> Fraction:
    """Round a grid coordinate to 3 significant digits, so that instance files show short exact decimals."""
    return Fraction(f"{value:.3g}")


def _eta_max(largest_eigenvalue: Any, depth: int) -> Fraction:
    """Return the exact largest ``eta`` with ``S(largest_eigenvalue) <= 1`` (rounded down by :func:`max_step_size`)."""
    return to_fraction_exact(max_step_size(_fraction(largest_eigenvalue), depth))


def _guaranteed(values: dict[str, Any] | None) -> list[float] | None:
    """Return ``[T0, T1]`` of a theorem's derived values when every hypothesis holds (spectral condition included)."""
    if values is None or not values["hypotheses_hold"]:
        return None
    return [float(values["T0"]), float(values["T1"])]


def _step_bounds(value: Any) -> tuple[int | None, int | None]:
    """Return ``(earliest, latest)`` of an observed step: an int, a certified ``[earliest, latest]`` range, or None."""
    if value is None:
        return None, None
    if isinstance(value, (list, tuple)):
        return value[0], value[1]
    return value, value


def _observed_interval(result: dict[str, Any]) -> list[float] | None:
    """Return the surely observed low-rank interval ``[T0_obs, T1_obs)`` of :func:`observe`'s result, or None when empty.

    The start is the latest possible learn step of a certified run, and the end
    the earliest possible leak step.  Without a leak inside the run, the end is the horizon + 1.
    """
    start = _step_bounds(result.get("observed_T0"))[1]
    stop = _step_bounds(result.get("observed_T1"))[0]
    if stop is None:
        stop = result["horizon"] + 1
    if start is None or start >= stop:
        return None
    return [float(start), float(stop)]


def _enclosures(run, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the snapshot steps and the ``(n, steps)`` lower and upper bounds of ``p_i(k)`` of a scalar run."""
    steps = sorted(set().union(*(run.record(i).snapshots for i in range(n))))
    low = np.empty((n, len(steps)))
    high = np.empty((n, len(steps)))
    for i in range(n):
        for column, step in enumerate(steps):
            bounds = run.value(i, step)
            low[i, column], high[i, column] = float(bounds[0]), float(bounds[1])
    return np.asarray(steps, dtype=float), low, high


def _saturation_horizon(instance, extra: int = 0) -> int:
    """Estimate the steps until every eigenvalue above ``alpha^N`` reaches 99% of itself (at least ``extra``)."""
    start = instance.alpha**instance.depth
    levels = {i: [mu * Fraction(99, 100)] for i, mu in enumerate(target_spectrum(instance).values) if mu * Fraction(99, 100) > start}
    return max(estimate_horizon(instance, levels), extra)


# ------------------------------------------------------------------- tasks


def _guarded(function: Callable[..., Any], *arguments: Any) -> tuple[Any, float]:
    """Run one task and return its result with its duration in seconds.

    An error of dmfverify becomes the result ``{"error": message}``, so that the report shows it.
    """
    started = time.perf_counter()
    try:
        result = function(*arguments)
    except DmfverifyError as error:
        result = {"error": f"{type(error).__name__}: {error}"}
    return result, time.perf_counter() - started


def _catalog_task(case: str, theorem_ids: tuple[str, ...], data_dir: str | None) -> dict[str, Any]:
    instance = load_instance(_case_path(case), data_dir=data_dir)
    verdicts = [verdict for theorem in select(builtin_theorems(), list(theorem_ids)) for verdict in check(theorem, instance)]
    return {"case": case, "instance": instance.id, "verdicts": verdicts}


def _trajectory_task(case: str, data_dir: str | None) -> dict[str, Any]:
    instance = load_instance(_case_path(case), data_dir=data_dir)
    theorem = L1 if instance.is_noiseless else Q1
    observed = observe(instance)
    run = simulate_scalar(instance, _saturation_horizon(instance, observed["horizon"]), arithmetic="certified")
    steps, low, high = _enclosures(run, instance.n)

    tracked = tracked_levels(instance)
    levels = [{"value": float(tracked[i][-1]), "curve": i, "label": f"learn level of p_{i + 1}"} for i in range(instance.rank)]
    levels.append({"value": float(instance.delta), "curve": None, "label": "leakage level delta"})
    return {
        "case": case, "instance": instance.id, "theorem": theorem.id, "noiseless": instance.is_noiseless,
        "parameters": {"depth": instance.depth, "alpha": float(instance.alpha), "eta": float(instance.eta), "rank": instance.rank,
                       "eps": float(instance.eps), "delta": float(instance.delta)},
        "guaranteed": _guaranteed(derived_values(theorem, instance)),
        "observed": _observed_interval(observed), "observe": observed,
        "steps": steps.tolist(), "low": low.tolist(), "high": high.tolist(), "levels": levels,
        "eigenvalues": [float(value) for value in run.eigenvalues],
        "arithmetic": f"{run.arithmetic}, {run.precision} {run.precision_unit}",
    }


def _phase_instance(depth: int, alpha: Fraction, ratio: Fraction):
    spectrum = PHASE_PROBLEM["spectrum"]
    return Instance.create(spectrum=spectrum, depth=depth, alpha=alpha, eta=_eta_max(spectrum[0], depth) * ratio,
                           rank=PHASE_PROBLEM["rank"], eps=PHASE_PROBLEM["eps"], delta=PHASE_PROBLEM["delta"],
                           id=f"phase-grid-N{depth}", kind="noiseless_low_rank_phase")


def _phase_row_task(depth: int, alpha: Fraction, ratios: tuple[Fraction, ...]) -> list[dict[str, Any]]:
    points = []
    for ratio in ratios:
        point: dict[str, Any] = {"alpha": float(alpha), "eta_ratio": float(ratio), "alpha_exact": str(alpha), "eta_ratio_exact": str(ratio)}
        try:
            instance = _phase_instance(depth, alpha, ratio)
            point["eta"] = float(instance.eta)
            point["eta_exact"] = str(instance.eta)
            point["guaranteed"] = _guaranteed(derived_values(L1, instance))
            point["observed"] = _observed_interval(observe(instance))
        except DmfverifyError as error:
            point["error"] = f"{type(error).__name__}: {error}"
        points.append(point)
    return points


def _noise_instance(sigma: Fraction):
    problem = NOISE_PROBLEM
    noise = None if sigma == 0 else {"spectral_norm": sigma, "seed": problem["seed"], "kind": "symmetric"}
    return Instance.create(spectrum=problem["spectrum"], noise=noise, depth=problem["depth"], alpha=problem["alpha"],
                           eta=problem["eta"], rank=problem["rank"], eps=problem["eps"], delta=problem["delta"],
                           id=f"noise-sweep-{float(sigma):.4g}", kind="perturbed_low_rank_phase")


def _noise_task(sigma: Fraction) -> dict[str, Any]:
    """Return Q1's interval, P3's ``K_i`` with the observed counts, and P2's recovery verdicts at one noise level."""
    instance = _noise_instance(sigma)
    low, high = noise_norm(instance)
    sigma_mid = (low + high) / 2
    truth = ground_truth_spectrum(instance).values

    # P3 with accuracy e = (lambda_i - sigma) / 100: K_i = Hupper(lambda_i - sigma - e; lambda_i - sigma).
    levels, bounds = {}, []
    for i in range(instance.rank):
        floor = truth[i] - sigma_mid
        levels[i] = [floor * Fraction(99, 100)]
        try:
            bounds.append(float(hitting_time_upper(levels[i][0], floor, instance.alpha, instance.eta, instance.depth)))
        except InvalidArgument:
            bounds.append(None)
    run = simulate_scalar(instance, estimate_horizon(instance, levels), arithmetic="certified", levels=levels)
    counts = [run.hitting_time(i, levels[i][0]) for i in range(instance.rank)]

    recovery = {}
    if not instance.is_noiseless:
        for verdict in check(P2, instance):
            if verdict.claim in ("limit eigenvalues", "limit Frobenius"):
                recovery[verdict.claim] = {"verdict": str(verdict.verdict), "observed": verdict.observed, "bound": verdict.bound}

    return {"sigma": float(sigma_mid), "sigma_requested": float(sigma), "sigma_requested_exact": str(sigma),
            "guaranteed": _guaranteed(derived_values(Q1, instance)), "observed": _observed_interval(observe(instance)),
            "K_bound": bounds, "K_observed": [list(pair) for pair in counts], "recovery": recovery}


def _sigma_max_task() -> float | None:
    return sigma_max(_noise_instance(Fraction(0)))


def _erank_task(depth: int) -> dict[str, Any]:
    """Return ``erank(W(k))`` at the snapshot steps with theorem E's window, reference and bound."""
    problem = ERANK_PROBLEM
    instance = Instance.create(spectrum=problem["spectrum"], depth=depth, alpha=problem["alpha"][depth],
                               eta=_eta_max(problem["spectrum"][0], depth) / 2, rank=problem["rank"], delta=problem["delta"],
                               id=f"erank-N{depth}")
    values = derived_values(E, instance)
    verdict = check(E, instance)[0]
    run = simulate_scalar(instance, _saturation_horizon(instance), arithmetic="certified", snapshot_count=400)
    steps, low, high = _enclosures(run, instance.n)

    holds = values is not None and values["hypotheses_hold"]
    return {
        "depth": depth, "alpha": float(instance.alpha), "eta": float(instance.eta), "eta_exact": str(instance.eta),
        "steps": steps.tolist(), "erank": [erank_of((low[:, j] + high[:, j]) / 2) for j in range(steps.size)],
        "window": [float(values["k_start"]), float(values["k_end"])] if holds else None,
        "reference": math.exp(float(values["erank_r"])) if values is not None else None,
        "bound": float(verdict.bound) if verdict.bound is not None else None,
        "deviation": verdict.observed, "verdict": str(verdict.verdict), "reason": verdict.reason,
        "full_rank": erank_of(np.array([float(value) for value in instance.spectrum])),
    }


def _digits_instance(size: int, data_dir: str | None, seed: int):
    rows = sorted(np.random.default_rng([seed, size]).choice(DIGITS_PROBLEM["images"], size, replace=False).tolist())
    problem = {key: DIGITS_PROBLEM[key] for key in ("depth", "alpha", "eta", "eps", "delta")}
    return digits_instance({"id": f"digits-{size}", "row_indices": rows, **problem}, data_dir=data_dir)


def _early_stopping(instance, horizon: int) -> dict[str, Any]:
    """Return ``||W(k) - M||`` at the snapshot steps, with ``W(k) = V diag(p(k)) V^T`` and V the eigenvectors of ``Mhat``."""
    spectrum = target_spectrum(instance)
    vectors = np.array([[float(entry) for entry in column] for column in spectrum.vectors]).T
    # M in the eigenbasis of Mhat: W(k) - M = V (diag(p(k)) - V^T M V) V^T, and both norms are rotation invariant.
    rotated = vectors.T @ instance.ground_truth_array() @ vectors
    run = simulate_scalar(instance, horizon, arithmetic="float64")
    steps, low, high = _enclosures(run, instance.n)
    differences = [np.diag((low[:, j] + high[:, j]) / 2) - rotated for j in range(steps.size)]

    low_sigma, high_sigma = noise_norm(instance)
    return {
        "sigma": float((low_sigma + high_sigma) / 2), "steps": steps.tolist(),
        "error_frobenius": [float(np.linalg.norm(difference, "fro")) for difference in differences],
        "error_spectral": [float(np.linalg.norm(difference, 2)) for difference in differences],
        "noise_frobenius": float(np.linalg.norm(instance.noise_array(), "fro")),
        "noise_spectral": float(np.linalg.norm(instance.noise_array(), 2)),
    }


def _digits_task(size: int, ranks: tuple[int, ...], with_curve: bool, horizon: int, data_dir: str | None,
                 seed: int) -> dict[str, Any]:
    """Return the per-rank phase rows of one subsample and, when asked, its early-stopping curve.

    One task per subsample, so that every rank reuses the eigendecompositions cached in this process.
    """
    instance = _digits_instance(size, data_dir, seed)
    result: dict[str, Any] = {"size": size, "rows": list(instance.extra["row_indices"]), "summaries": []}
    if ranks:
        result["summaries"] = [{key: (list(value) if isinstance(value, tuple) else value) for key, value in row.items()}
                               for row in rank_summary(instance, list(ranks))]
    if with_curve:
        result["curve"] = _early_stopping(instance, horizon)
    return result
