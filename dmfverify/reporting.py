"""Regenerable reports: Markdown pages with PNG figures, JSON data and optional LaTeX tables.

:func:`build_reports` writes into one folder:

=====================  ===========================================================================
``catalog.md``         every theorem with its statement, and its verdicts on the built-in library
``trajectories.md``    ``p_i(k)`` with the guaranteed and the observed low-rank interval
``phase_diagrams.md``  over ``(alpha, eta / eta_max)``: where L1 guarantees a phase, where one is seen
``noise_sweeps.md``    Q1's interval, P3's iteration bound and P2's recovery error against ``sigma``
``effective_rank.md``  the incremental staircase of ``erank(W(k))`` with theorem E's window
``real_data.md``       the digits covariance with subsample noise: phases per rank, early stopping
``README.md``          the index, the command that regenerates the folder and the measured run time
=====================  ===========================================================================

with the figures under ``figures/``, every plotted number under ``data/`` and,
with ``latex=True``, LaTeX tables under ``tables/``.  Every number comes from
the checker (:func:`~dmfverify.checker.check`, :func:`~dmfverify.checker.derived_values`),
the scalar engine, :mod:`dmfverify.simulation`, :mod:`dmfverify.phase`,
:mod:`dmfverify.potential` and :mod:`dmfverify.datasets`; this module only
arranges them.  The computations are independent tasks, run largest first in
``workers`` processes started with the ``spawn`` method; progress goes to the
module logger at INFO level.
"""

from __future__ import annotations

import datetime
import logging
import math
import multiprocessing
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass
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
from dmfverify.figures import (
    PageWriter,
    latex_escape,
    plain,
    plot_early_stopping,
    plot_effective_rank,
    plot_iteration_complexity,
    plot_noise_intervals,
    plot_phase_diagram,
    plot_rank_phases,
    plot_recovery,
    plot_sigma_margin,
    plot_trajectories,
    plot_verdict_spread,
)
from dmfverify.instance import Instance, load_instance
from dmfverify.observable_registry import erank_of
from dmfverify.phase import rank_summary, sigma_max
from dmfverify.potential import hitting_time_upper
from dmfverify.report import markdown_table as verdict_table
from dmfverify.rounding import to_fraction_exact
from dmfverify.scalar_engine import simulate_scalar
from dmfverify.simulation import estimate_horizon, observe, tracked_levels
from dmfverify.spectrum import ground_truth_spectrum, noise_norm, target_spectrum
from dmfverify.step_size import max_step_size
from dmfverify.theorem_loader import builtin_theorems, select

__all__ = ["ReportConfig", "ReportResult", "build_reports", "PHASE_PROBLEM", "NOISE_PROBLEM", "ERANK_PROBLEM", "DIGITS_PROBLEM"]

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class ReportConfig:
    """Sizes of the report's sweeps; ``ReportConfig()`` is the full report and :meth:`quick` a smoke test.

    Attributes
    ----------
    catalog_cases : tuple of str or None
        Names (file stems) of the built-in instances the catalog is checked on; None means all.
    trajectory_cases : tuple of str
        A noiseless and a perturbed built-in instance whose trajectories are drawn.
    phase_alpha_count, phase_eta_count : int
        Grid points of the phase diagrams along ``alpha`` (geometric) and ``eta / eta_max`` (linear, up to 1).
    phase_depths, erank_depths : tuple of int
    noise_sigma_count : int
        Noise levels from 0 to ``NOISE_PROBLEM["largest_sigma"]``.
    digits_sizes : tuple of int
        Subsample sizes for the noise level and the early-stopping curves.
    digits_rank_sizes, digits_ranks : tuple of int
        Subsample sizes and ranks of the per-rank phase table.  Each size costs
        eigendecompositions of 64 x 64 matrices in mpmath, shared by its ranks.
    digits_horizon : int
        Steps of the early-stopping curves.
    seed : int
        Seed of the subsample draws (:func:`numpy.random.default_rng` with ``[seed, size]``).
    """

    catalog_cases: tuple[str, ...] | None = None
    trajectory_cases: tuple[str, ...] = ("phase-depth3-rank2", "perturbed-depth3-rank2")
    phase_alpha_count: int = 24
    phase_eta_count: int = 16
    phase_depths: tuple[int, ...] = (2, 3, 4)
    noise_sigma_count: int = 25
    erank_depths: tuple[int, ...] = (2, 3, 4, 5)
    digits_sizes: tuple[int, ...] = (50, 100, 200, 400, 800, 1797)
    digits_rank_sizes: tuple[int, ...] = (50, 100, 200, 400, 800, 1797)
    digits_ranks: tuple[int, ...] = (1, 2, 3, 4, 5)
    digits_horizon: int = 2_000_000
    seed: int = 0

    def __post_init__(self):
        unknown = [depth for depth in self.phase_depths if depth not in PHASE_PROBLEM["alpha_range"]]
        unknown += [depth for depth in self.erank_depths if depth not in ERANK_PROBLEM["alpha"]]
        if unknown:
            raise InvalidArgument(f"depth {unknown[0]} has no alpha range in PHASE_PROBLEM or ERANK_PROBLEM; add one or drop the depth.")
        for name in ("phase_alpha_count", "phase_eta_count", "noise_sigma_count"):
            if getattr(self, name) < 2:
                raise InvalidArgument(f"{name} = {getattr(self, name)} is invalid: a sweep needs at least 2 points.")
        sizes = self.digits_sizes + self.digits_rank_sizes
        if any(not 2 <= size <= DIGITS_PROBLEM["images"] for size in sizes):
            raise InvalidArgument(f"digits subsample sizes {sizes} must lie in [2, {DIGITS_PROBLEM['images']}]; fix the sizes.")
        if self.digits_horizon < 1:
            raise InvalidArgument(f"digits_horizon = {self.digits_horizon} is invalid: it must be at least 1 step.")

    @classmethod
    def quick(cls) -> "ReportConfig":
        """Return the smoke-test configuration: one tiny catalog instance and the smallest sweeps."""
        return cls(catalog_cases=("phase-depth3-rank2",), phase_alpha_count=4, phase_eta_count=3, noise_sigma_count=4,
                   erank_depths=(2, 3), digits_sizes=(400,), digits_rank_sizes=(400,), digits_ranks=(3,),
                   digits_horizon=200_000)


@dataclass(frozen=True)
class ReportResult:
    """Output of :func:`build_reports`: the folder, the files written, the section data and the wall time in seconds."""

    out: Path
    files: tuple[Path, ...]
    data: dict[str, Any]
    seconds: float


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


# ---------------------------------------------------------------- planning


def _grid(config: ReportConfig) -> dict[int, tuple[list[Fraction], list[Fraction]]]:
    """Return per depth the ``alpha`` values (geometric) and ``eta / eta_max`` values (linear) of the phase diagram."""
    grid = {}
    ratios = [_decimal(value) for value in np.linspace(1 / config.phase_eta_count, 1.0, config.phase_eta_count)]
    for depth in config.phase_depths:
        low, high = (float(value) for value in PHASE_PROBLEM["alpha_range"][depth])
        grid[depth] = ([_decimal(value) for value in np.geomspace(low, high, config.phase_alpha_count)], ratios)
    return grid


def _noise_levels(config: ReportConfig) -> list[Fraction]:
    largest = float(NOISE_PROBLEM["largest_sigma"])
    return [_decimal(value) if value > 0 else Fraction(0) for value in np.linspace(0.0, largest, config.noise_sigma_count)]


def _plan(config: ReportConfig, data_dir: str | None) -> list[tuple[tuple, Callable[..., Any], tuple]]:
    """Return the tasks as ``(key, function, arguments)``, the expensive ones first."""
    tasks: list[tuple[tuple, Callable[..., Any], tuple]] = []
    for size in sorted(set(config.digits_sizes) | set(config.digits_rank_sizes)):
        ranks = config.digits_ranks if size in config.digits_rank_sizes else ()
        arguments = (size, ranks, size in config.digits_sizes, config.digits_horizon, data_dir, config.seed)
        tasks.append((("digits", size), _digits_task, arguments))

    cases = config.catalog_cases or tuple(path.stem for path in builtin_case_paths())
    theorem_ids = tuple(theorem.id for theorem in builtin_theorems())
    # A real-data instance costs minutes and one task, so that its eigendecompositions are computed once per process.
    # The other instances get one task per theorem, so that a slow check delays or times out only itself.
    for case in sorted(cases, key=lambda name: not name.startswith("realdata")):
        if case.startswith("realdata"):
            tasks.append((("catalog", case, "all"), _catalog_task, (case, theorem_ids, data_dir)))
        else:
            tasks += [(("catalog", case, theorem_id), _catalog_task, (case, (theorem_id,), data_dir)) for theorem_id in theorem_ids]
    for case in config.trajectory_cases:
        tasks.append((("trajectory", case), _trajectory_task, (case, data_dir)))
    for depth, (alphas, ratios) in _grid(config).items():
        for index, alpha in enumerate(alphas):
            tasks.append((("phase", depth, index), _phase_row_task, (depth, alpha, tuple(ratios))))
    for index, sigma in enumerate(_noise_levels(config)):
        tasks.append((("noise", index), _noise_task, (sigma,)))
    tasks.append((("sigma_max",), _sigma_max_task, ()))
    for depth in config.erank_depths:
        tasks.append((("erank", depth), _erank_task, (depth,)))
    return tasks


def _run_tasks(tasks: list[tuple[tuple, Callable[..., Any], tuple]], workers: int,
               timeout: float) -> tuple[dict[tuple, Any], dict[str, float]]:
    """Run every task, log progress, and time each section.

    With more than one worker the tasks run in a pool of spawned processes, in
    the order given.  Tasks still unfinished ``timeout`` seconds after the start
    get the result ``{"error": "timed out ..."}`` and their processes are
    terminated.  With one worker everything runs in this process, without a timeout.
    """
    results: dict[tuple, Any] = {}
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def record(key: tuple, outcome: tuple[Any, float]) -> None:
        result, duration = outcome
        results[key] = result
        seconds[key[0]] = seconds.get(key[0], 0.0) + duration
        if isinstance(result, dict) and "error" in result:
            logger.warning("report task %s failed: %s", key, result["error"])
        logger.info("report: %d/%d tasks done after %.0f s (last: %s)", len(results), len(tasks), time.perf_counter() - started, key)

    if workers == 1:
        for key, function, arguments in tasks:
            record(key, _guarded(function, *arguments))
        return results, seconds

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pending = {key: pool.apply_async(_guarded, (function, *arguments)) for key, function, arguments in tasks}
        while pending and time.perf_counter() - started < timeout:
            finished = [key for key, handle in pending.items() if handle.ready()]
            for key in finished:
                record(key, pending.pop(key).get())
            if not finished:
                time.sleep(0.2)
        for key in list(pending):
            record(key, ({"error": f"timed out: the task was still running {timeout:.0f} s after the report started"}, 0.0))
    return results, seconds


# ------------------------------------------------------------------- pages

_CLAIM_KINDS = {"HittingTimeBound": "hitting time", "WindowBound": "window", "StepValueBound": "step value",
                "ObservableBound": "observable"}
_OUTCOMES = ("HOLDS", "VIOLATED", "INCONCLUSIVE", "VACUOUS", "ERROR")


def _failures(results: dict[tuple, Any], section: str) -> list[str]:
    """Return one Markdown line per failed task of a section, naming the task and the error."""
    failed = [(key, value) for key, value in results.items() if key[0] == section and isinstance(value, dict) and "error" in value]
    return [f"- Task {key[1:]} failed: {value['error']}" for key, value in sorted(failed, key=lambda item: str(item[0]))]


def _length_ratio(guaranteed: list[float] | None, observed: list[float] | None) -> float | None:
    if guaranteed is None or observed is None:
        return None
    return (guaranteed[1] - guaranteed[0]) / (observed[1] - observed[0])


def _statement(theorem, counts: Counter) -> list[str]:
    hypotheses = [f"- {hypothesis.name}" + (f" (for every i in {hypothesis.over})" if hypothesis.over else "")
                  for hypothesis in theorem.hypotheses]
    verdicts = ", ".join(f"{counts[outcome]} {outcome}" for outcome in _OUTCOMES if counts[outcome]) or "none"
    return [
        f"### {theorem.id} ({theorem.status}): {theorem.title}",
        f"Source: {theorem.source}.",
        "```text\n" + theorem.statement.strip() + "\n```",
        # GitHub renders display math in $$ blocks, where the aligned environment replaces align*.
        "$$\n" + theorem.to_latex().replace("align*", "aligned") + "\n$$",
        "Hypotheses:\n" + ("\n".join(hypotheses) if hypotheses else "- none beyond those attached to each claim"),
        f"Verdicts on the library: {verdicts}.",
    ]


def _catalog_page(writer: PageWriter, results: dict[tuple, Any]) -> dict[str, Any]:
    theorems = builtin_theorems()
    by_id = {theorem.id: theorem for theorem in theorems}
    runs = [results[key] for key in sorted((key for key in results if key[0] == "catalog"), key=lambda key: key[1])]
    verdicts = [verdict for run in runs if "verdicts" in run for verdict in run["verdicts"]]
    order = {(theorem.id, claim.name): position for position, (theorem, claim) in
             enumerate((theorem, claim) for theorem in theorems for claim in theorem.claims)}
    verdicts.sort(key=lambda verdict: (verdict.instance, order[(verdict.theorem, verdict.claim)]))
    checked = sorted({run["instance"] for run in runs if "verdicts" in run})
    counts = {theorem.id: Counter(str(verdict.verdict) for verdict in verdicts if verdict.theorem == theorem.id) for theorem in theorems}
    totals = Counter(str(verdict.verdict) for verdict in verdicts)

    records = [{"theorem": verdict.theorem, "kind": _CLAIM_KINDS[type(by_id[verdict.theorem].claim(verdict.claim)).__name__],
                "verdict": str(verdict.verdict), "margin": plain(verdict.margin), "tightness": plain(verdict.tightness)}
               for verdict in verdicts]
    rows = [[theorem.id, theorem.status, *(counts[theorem.id][outcome] for outcome in _OUTCOMES)] for theorem in theorems]
    instances = ", ".join(checked)
    negative = sum(1 for record in records if record["margin"] is not None and record["margin"] < 0)
    slack = ("no drawn margin is negative, so each of these claims holds with that slack" if negative == 0
             else f"{negative} margin(s) are negative: those claims fail by that amount")

    sections = [
        f"Every theorem of the built-in catalog ({len(theorems)} theorems, package `dmfverify.catalog`) checked on "
        f"{len(checked)} instance(s) of the built-in problem library: {instances}. In total {len(verdicts)} verdicts: "
        + ", ".join(f"{totals[outcome]} {outcome}" for outcome in _OUTCOMES) + ". A verdict judges one claim of one theorem "
        "on one instance. HOLDS and VIOLATED rest on certified enclosures of the dynamics, and HOLDS speaks of that instance only.",
        *_failures(results, "catalog"),
        "## Verdict counts",
        writer.table("catalog_counts", ["theorem", "status", *_OUTCOMES], rows, "Verdict counts per theorem over the built-in library"),
        "## Margins and tightness",
        writer.figure("catalog_margins.png", plot_verdict_spread, records, [theorem.id for theorem in theorems], caption=(
            "Margin (top, symmetric log scale, linear within 1e-6 of zero) and tightness (bottom) of every verdict that has "
            f"them, one column per theorem; colour is the verdict and the marker the claim type. What to see: {slack} (in "
            "steps for hitting-time and window claims, in the observable's units otherwise), and a tightness near 1 means "
            "the bound is nearly attained. Vacuous verdicts have neither number and are not drawn.")),
        "## Statements",
    ]
    for theorem in theorems:
        sections += _statement(theorem, counts[theorem.id])
    notable = [f"- {verdict}" for verdict in verdicts if str(verdict.verdict) not in ("HOLDS", "VACUOUS")]
    sections += ["## Verdicts other than HOLDS and VACUOUS", "\n".join(notable) or "None.", "## All verdicts", verdict_table(verdicts)]

    if writer.latex:
        blocks = [rf"\paragraph{{{theorem.id}: {latex_escape(theorem.title)}}}" + "\n" + theorem.to_latex() for theorem in theorems]
        writer.raw("tables/catalog_statements.tex", "\n\n".join(blocks) + "\n")
    data = {"instances": checked, "counts": counts, "verdicts": verdicts}
    writer.data("catalog.json", data)
    writer.page("catalog.md", "Catalog verification report", sections)
    return plain(data)


def _trajectory_page(writer: PageWriter, results: dict[tuple, Any], config: ReportConfig) -> dict[str, Any]:
    sections = [
        "Product eigenvalues `p_i(k) = x_i(k)^N` of gradient descent started at `W_j(0) = alpha I`, from the scalar engine's "
        "certified enclosures (drawn as bands, thinner than the lines here), for a noiseless and a perturbed instance of "
        "the library with the same spectrum. The guaranteed interval is `[T0, T1)` of theorem L1 (noiseless) or Q1 "
        "(perturbed); the observed one starts at the first step where every top-r eigenvalue is learned and ends at the "
        "first step where another one reaches delta.",
        *_failures(results, "trajectory"),
    ]
    rows, data = [], {}
    for case in config.trajectory_cases:
        result = results[("trajectory", case)]
        if "error" in result:
            continue
        guaranteed, observed = result["guaranteed"], result["observed"]
        ratio = _length_ratio(guaranteed, observed)
        parameters = result["parameters"]
        curves = [{"label": f"p_{i + 1}(k), mu_{i + 1} = {value:.4g}", "low": low, "high": high}
                  for i, (value, low, high) in enumerate(zip(result["eigenvalues"], result["low"], result["high"]))]
        panel = {"title": f"{case}: N = {parameters['depth']}, alpha = {parameters['alpha']:g}, eta = {parameters['eta']:g}, "
                          f"r = {parameters['rank']}", "steps": result["steps"], "curves": curves, "levels": result["levels"],
                 "guaranteed": guaranteed, "observed": observed, "guarantee_name": result["theorem"]}
        if guaranteed is None:
            what = f"No interval is guaranteed: a hypothesis of {result['theorem']} fails, the spectral condition T0 < T1 included."
        else:
            what = (f"The guaranteed [{guaranteed[0]:.1f}, {guaranteed[1]:.1f}) of {result['theorem']} (green) lies inside the "
                    f"observed {_interval_text(observed)} (hatched) and covers {ratio:.1%} of its length.")
        caption = (f"p_i(k) on log-log axes; dashed lines are the learn levels of the top r eigenvalues, the dotted line is "
                   f"delta = {parameters['delta']:g}. What to see: the top r curves cross their learn levels just before T0 "
                   f"and the first small one crosses delta just after T1. {what}")
        sections += [f"## {case}", writer.figure(f"trajectories_{case}.png", plot_trajectories, panel, caption=caption)]
        rows.append([case, result["theorem"], *(guaranteed or [None, None]), *(observed or [None, None]), ratio])
        data[case] = {key: result[key] for key in ("instance", "theorem", "parameters", "guaranteed", "observed", "eigenvalues",
                                                    "steps", "low", "high", "arithmetic")}

    sections += ["## Intervals", writer.table("trajectories", ["instance", "theorem", "guaranteed T0", "guaranteed T1",
                                                                "observed T0", "observed T1", "length ratio"], rows,
                                              "Guaranteed and observed low-rank intervals")]
    writer.data("trajectories.json", data)
    writer.page("trajectories.md", "Trajectories and low-rank intervals", sections)
    return plain(data)


def _interval_text(interval: list[float] | None) -> str:
    return "none" if interval is None else f"[{interval[0]:.0f}, {interval[1]:.0f})"


def _phase_page(writer: PageWriter, results: dict[tuple, Any], grid: dict[int, tuple[list[Fraction], list[Fraction]]]) -> dict[str, Any]:
    problem = PHASE_PROBLEM
    sections = [
        f"Noiseless spectrum ({', '.join(problem['spectrum'])}), rank r = {problem['rank']}, eps = {problem['eps']}, "
        f"delta = {problem['delta']}, aligned start alpha I. For each depth, a grid over the initial scale alpha "
        "(geometric) and the step size eta as a fraction of eta_max, the step size with S(lambda_1) = eta N lambda_1^(2-2/N) = 1. "
        "At every point the checker evaluates theorem L1 (hypotheses, spectral condition T0 < T1) and a certified run "
        "gives the observed interval. The length ratio (T1 - T0) / (T1_obs - T0_obs) says how much of the observed "
        "phase the theorem guarantees.",
        *_failures(results, "phase"),
    ]
    rows, data = [], {}
    for depth, (alphas, ratios) in grid.items():
        shape = (len(ratios), len(alphas))
        flags = {name: np.zeros(shape, dtype=bool) for name in ("guaranteed", "observed", "contradicted", "failed")}
        length_ratio = np.full(shape, np.nan)
        points = []
        for column in range(len(alphas)):
            row = results[("phase", depth, column)]
            if isinstance(row, dict):
                flags["failed"][:, column] = True
                continue
            for line, point in enumerate(row):
                points.append(point)
                if "error" in point:
                    flags["failed"][line, column] = True
                    continue
                guaranteed, observed = point["guaranteed"], point["observed"]
                flags["guaranteed"][line, column] = guaranteed is not None
                flags["observed"][line, column] = observed is not None
                if guaranteed is not None and math.ceil(guaranteed[0]) < math.ceil(guaranteed[1]):
                    inside = observed is not None and observed[0] <= math.ceil(guaranteed[0]) and math.ceil(guaranteed[1]) <= observed[1]
                    flags["contradicted"][line, column] = not inside
                ratio = _length_ratio(guaranteed, observed)
                length_ratio[line, column] = np.nan if ratio is None else ratio

        both = length_ratio[np.isfinite(length_ratio)]
        alpha_limit = float(Fraction(problem["delta"])) ** (1 / depth)
        panel = {"alphas": [float(alpha) for alpha in alphas], "eta_ratios": [float(ratio) for ratio in ratios],
                 **{name: matrix.tolist() for name, matrix in flags.items()}, "length_ratio": length_ratio.tolist(),
                 "alpha_limit": alpha_limit, "title": f"Depth N = {depth}: low-rank phase over (alpha, eta / eta_max)"}
        counts = {name: int(matrix.sum()) for name, matrix in flags.items()}
        observed_only = int((flags["observed"] & ~flags["guaranteed"]).sum())
        median = float(np.median(both)) if both.size else None
        caption = (f"Depth {depth}, {len(alphas)} x {len(ratios)} points. What to see: L1 guarantees a phase at "
                   f"{counts['guaranteed']} of the {counts['observed']} points where one is observed. The spectral "
                   f"condition misses the other {observed_only} (grey), and {counts['contradicted']} points contradict L1. Where both exist the guaranteed interval covers a median {_format(median)} of the "
                   f"observed length. Right of the dashed line alpha^N >= delta, so the leakage level lies below the "
                   f"start and no phase exists.")
        sections += [f"## Depth {depth}", writer.figure(f"phase_depth{depth}.png", plot_phase_diagram, panel, caption=caption)]
        rows.append([depth, len(alphas) * len(ratios), counts["guaranteed"], counts["observed"], observed_only,
                     counts["contradicted"], counts["failed"], median, float(both.min()) if both.size else None])
        data[str(depth)] = {"panel": panel, "points": points}

    sections += ["## Summary", writer.table("phase_diagrams", ["depth", "points", "guaranteed", "observed", "observed only",
                                                               "contradicting L1", "failed", "median length ratio",
                                                               "smallest length ratio"], rows,
                                            "Phase diagrams: counts of grid points and length ratios")]
    writer.data("phase_diagrams.json", data)
    writer.page("phase_diagrams.md", "Phase diagrams of the noiseless low-rank phase", sections)
    return plain(data)


def _guaranteed_ranks(sizes: list[int], sigmas: dict[int, float], margins: dict[int, float | None]) -> str:
    """Return a sentence naming, per rank, the drawn subsample sizes whose sigma is below that rank's sigma_max."""
    parts = []
    for rank, margin in sorted(margins.items()):
        below = [str(size) for size in sizes if 0 < sigmas[size] and margin is not None and sigmas[size] < margin]
        parts.append(f"rank {rank} at {', '.join(below)} images" if below else f"rank {rank} at no drawn size")
    return "; ".join(parts) if parts else "no rank was summarised"


def _early_stopping_gain(curves: dict[int, dict[str, Any]]) -> str:
    """Return a sentence giving, per norm, how much closer to M than the limit ``||Mhat - M||`` the best step is, relatively."""
    parts = []
    for norm, name in (("frobenius", "Frobenius"), ("spectral", "spectral")):
        gains = [((curve[f"noise_{norm}"] - min(curve[f"error_{norm}"])) / curve[f"noise_{norm}"], size)
                 for size, curve in curves.items() if curve[f"noise_{norm}"] > 0]
        if not gains:
            continue
        gain, size = max(gains)
        if gain >= 0.0005:
            parts.append(f"In the {name} norm the best step is at most {gain:.1%} closer to M than the limit ({size} images).")
        else:
            parts.append(f"In the {name} norm no step is closer to M than the limit by 0.05% or more.")
    return " ".join(parts)


def _verdict_counts(points: list[dict[str, Any]]) -> str:
    counts = Counter(entry["verdict"] for point in points for entry in point["recovery"].values())
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())) or "none"


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _noise_page(writer: PageWriter, results: dict[tuple, Any], sigmas: list[Fraction]) -> dict[str, Any]:
    problem = NOISE_PROBLEM
    points = [results[("noise", index)] for index in range(len(sigmas))]
    points = [point for point in points if "error" not in point]
    margin = results[("sigma_max",)]
    margin = None if isinstance(margin, dict) else margin
    rank = problem["rank"]

    def column(key: str, index: int) -> list[Any]:
        return [None if point[key] is None else point[key][index] for point in points]

    sweep = {"sigmas": [point["sigma"] for point in points], "sigma_max": margin,
             "guaranteed_T0": column("guaranteed", 0), "guaranteed_T1": column("guaranteed", 1),
             "observed_T0": column("observed", 0), "observed_T1": column("observed", 1),
             "bound": [[point["K_bound"][i] for point in points] for i in range(rank)],
             "observed": [[point["K_observed"][i][1] for point in points] for i in range(rank)]}
    recovery = {"sigmas": sweep["sigmas"]}
    for name, claim in (("eigenvalue", "limit eigenvalues"), ("frobenius", "limit Frobenius")):
        recovery[f"{name}_error"] = [point["recovery"].get(claim, {}).get("observed") for point in points]
        recovery[f"{name}_bound"] = [point["recovery"].get(claim, {}).get("bound") for point in points]
    seen = [point["sigma"] for point in points if point["observed"] is not None]
    pairs = [(bound, count) for point in points for bound, (_, count) in zip(point["K_bound"], point["K_observed"])
             if bound is not None and count is not None]
    above = sum(1 for bound, count in pairs if bound >= count)

    sections = [
        f"Spectrum ({', '.join(problem['spectrum'])}) with a symmetric noise matrix E of fixed direction (seed "
        f"{problem['seed']}) scaled to spectral norm sigma, depth N = {problem['depth']}, alpha = {problem['alpha']}, "
        f"eta = {problem['eta']}, rank r = {rank}, eps = {problem['eps']}, delta = {problem['delta']}. sigma_max = "
        f"{_format(margin)} is the largest noise level at which the spectral condition of Q1 still holds (bisection on "
        f"its formulas).",
        *_failures(results, "noise"),
        "## Low-rank interval against sigma",
        writer.figure("noise_intervals.png", plot_noise_intervals, {**sweep, "title": "Guaranteed (Q1) and observed low-rank interval"},
                      caption=(f"Guaranteed [T0(sigma), T1(sigma)) of Q1 (green) and the observed interval (blue markers) against "
                               f"sigma; the red line is sigma_max = {_format(margin)}. What to see: T0 grows and T1 shrinks "
                               f"with sigma until they meet at sigma_max, while an observed phase persists up to sigma = "
                               f"{_format(max(seen) if seen else None)}: the condition is sufficient, not necessary.")),
        "## Iteration complexity",
        writer.figure("noise_iterations.png", plot_iteration_complexity, {**sweep, "title": "Bound K_i(sigma) of P3 and observed steps"},
                      caption=("K_i(sigma) = Hupper(lambda_i - sigma - e; lambda_i - sigma) of P3 with e = (lambda_i - sigma)/100 "
                               "(lines) and the observed number of steps after which |p_i(k) - lambda_i| <= sigma + e holds "
                               "(markers; p_i rises monotonically below mu_i <= lambda_i + sigma, so this is the first step with "
                               f"p_i(k) >= lambda_i - sigma - e). What to see: the bound is at or above the observed count "
                               f"in {above} of {len(pairs)} cases, and the bound grows with sigma: the price of noise in "
                               f"iteration complexity.")),
        "## Eigenvalue recovery",
        writer.figure("noise_recovery.png", plot_recovery, {**recovery, "title": "Recovery error of the limit (P2)"},
                      caption=("Error of the limit (Mhat)_+ against the bounds of P2, as computed by the checker: "
                               "max_i |lambda_i((Mhat)_+) - lambda_i| against sigma and ||(Mhat)_+ - M||_F against ||E||_F. "
                               f"What to see: the verdicts are {_verdict_counts(points)}; at sigma = 0 P2 is vacuous and nothing "
                               "is drawn.")),
    ]
    header = ["sigma", "T0(sigma)", "T1(sigma)", "T0_obs", "T1_obs"]
    header += [name for i in range(rank) for name in (f"K_{i + 1}", f"steps_{i + 1}")] + ["eigenvalue error", "Frobenius error"]
    rows = [[point["sigma"], *(point["guaranteed"] or [None, None]), *(point["observed"] or [None, None]),
             *[value for i in range(rank) for value in (point["K_bound"][i], point["K_observed"][i][1])],
             recovery["eigenvalue_error"][index], recovery["frobenius_error"][index]] for index, point in enumerate(points)]
    sections += ["## Numbers", writer.table("noise_sweep", header, rows, "Noise sweep: Q1 interval, P3 iteration bound, P2 recovery")]

    data = {"sigma_max": margin, "points": points}
    writer.data("noise_sweeps.json", data)
    writer.page("noise_sweeps.md", "Noise sweeps", sections)
    return plain(data)


def _erank_page(writer: PageWriter, results: dict[tuple, Any], config: ReportConfig) -> dict[str, Any]:
    problem = ERANK_PROBLEM
    panels, rows, data = [], [], {}
    for depth in config.erank_depths:
        result = results[("erank", depth)]
        if "error" in result:
            continue
        panels.append({**result, "title": f"N = {depth}, alpha = {result['alpha']:g}, eta = {result['eta']:.3g}"})
        window = result["window"] or [None, None]
        rows.append([depth, result["alpha"], result["eta"], *window, result["deviation"], result["bound"], result["verdict"]])
        data[str(depth)] = result

    sections = [
        f"Entropy effective rank erank(W(k)) = exp(-sum q_i ln q_i), q = p(k) / sum p(k), of the product along gradient "
        f"descent for the noiseless spectrum ({', '.join(problem['spectrum'])}), one panel per depth with eta = eta_max / 2. "
        f"Theorem E (rank r = {problem['rank']}, delta = {problem['delta']}, theta = 9/10) bounds |erank(W(k)) - erank(M_r)| "
        "on the window [k_start, k_end) where the top r eigenvalues have reached 90% and the others are below delta.",
        *_failures(results, "erank"),
    ]
    if panels:
        sections.append(writer.figure("effective_rank.png", plot_effective_rank, panels, caption=(
            "erank(W(k)) over k (log scale). Green: E's window; orange band: erank(M_r) plus or minus E's bound. What to see: "
            "from erank = n at the start (all eigenvalues equal alpha^N) the effective rank drops to 1 and then climbs a "
            "staircase, one step per learned eigenvalue, and the steps are sharper for larger depth. Theorem E's verdicts "
            f"by depth: {', '.join(f'N = {row[0]}: {row[-1]}' for row in rows)}.")))
    sections.append(writer.table("effective_rank", ["depth", "alpha", "eta", "k_start", "k_end", "max deviation", "bound of E",
                                                    "verdict"], rows, "Effective-rank window of theorem E"))
    writer.data("effective_rank.json", data)
    writer.page("effective_rank.md", "Effective rank and the incremental staircase", sections)
    return plain(data)


def _digits_page(writer: PageWriter, results: dict[tuple, Any], config: ReportConfig) -> dict[str, Any]:
    problem = DIGITS_PROBLEM
    curves, summaries, rows = {}, [], {}
    for key, result in sorted(results.items(), key=lambda item: str(item[0])):
        if key[0] != "digits" or "error" in result:
            continue
        rows[result["size"]] = result["rows"]
        if "curve" in result:
            curves[result["size"]] = result["curve"]
        summaries += [{"size": result["size"], **row} for row in result["summaries"]]
    summaries.sort(key=lambda row: (row["size"], row["rank"]))

    sigmas = {size: curve["sigma"] for size, curve in curves.items()}
    sigmas.update({row["size"]: row["sigma"] for row in summaries})
    margins: dict[int, float | None] = {}
    for row in summaries:
        margins.setdefault(row["rank"], row["sigma_max"])
    sizes = sorted(sigmas)

    sections = [
        f"Ground truth M: the sample covariance of all {problem['images']} UCI digits images (8 x 8 pixels), divided by "
        "its largest eigenvalue. Observed target Mhat: the covariance of a random subsample of images (fixed seed "
        f"{config.seed}, without replacement), divided by the same number, so E = Mhat - M is real sampling noise. "
        f"Depth N = {problem['depth']}, alpha = {problem['alpha']}, eta = {problem['eta']}, eps = {problem['eps']}, "
        f"delta = {problem['delta']}. Per rank r the observed phase comes from a certified run, the guaranteed one from Q1, "
        "and sigma_max is the largest sigma at which Q1's spectral condition holds (it depends on M only).",
        *_failures(results, "digits"),
        "## Noise level against the robustness margin",
        writer.figure("digits_sigma.png", plot_sigma_margin, {"sizes": sizes, "sigmas": [sigmas[size] for size in sizes],
                                                              "sigma_max": margins},
                      caption=("sigma = ||Mhat - M||_2 for each subsample size against sigma_max of each rank (the full "
                               f"data set, {problem['images']} images, has sigma = 0 and is not drawn). What to see: sigma "
                               "decreases with the size, and Q1 guarantees a phase of rank r only where sigma is below "
                               "that rank's line: " + _guaranteed_ranks(sizes, sigmas, margins) + ".")),
    ]
    if summaries:
        panels = [{"title": f"{size} images, sigma = {sigmas[size]:.3g}", "rows": [row for row in summaries if row["size"] == size]}
                  for size in sorted({row["size"] for row in summaries})]
        observed = sum(1 for row in summaries if row["observed"] is not None)
        guaranteed = sum(1 for row in summaries if row["guaranteed"] is not None)
        sections += ["## Phases per rank", writer.figure("digits_phases.png", plot_rank_phases, panels, caption=(
            f"Observed (blue) and guaranteed (green) low-rank phases per rank and subsample size. What to see: a phase is "
            f"observed for {observed} and guaranteed for {guaranteed} of the {len(summaries)} (size, rank) pairs; a "
            f"guarantee needs sigma below sigma_max of that rank.")),
            writer.table("digits_ranks", ["images", "rank", "sigma", "sigma_max", "observed T0", "observed T1",
                                          "guaranteed T0", "guaranteed T1"],
                         [[row["size"], row["rank"], row["sigma"], row["sigma_max"], *(row["observed"] or [None, None]),
                           *(row["guaranteed"] or [None, None])] for row in summaries], "Digits covariance: phases per rank")]

    if curves:
        labelled = [{"label": f"{size} images, sigma = {curve['sigma']:.3f}", "steps": curve["steps"],
                     "frobenius": curve["error_frobenius"], "spectral": curve["error_spectral"],
                     "noise_frobenius": curve["noise_frobenius"], "noise_spectral": curve["noise_spectral"]}
                    for size, curve in sorted(curves.items())]
        sections += ["## Early stopping", writer.figure("digits_early_stopping.png", plot_early_stopping, labelled, caption=(
            "||W(k) - M|| against k in the Frobenius (left) and spectral (right) norm, with W(k) = V diag(p(k)) V^T, V the "
            "eigenvectors of Mhat and p(k) from the scalar engine (float64); dashed: ||Mhat - M|| in the same colour. What "
            "to see: the large eigenvalues are learned first and the error falls towards ||Mhat - M||, its limit, because "
            "a sample covariance is PSD and gradient descent converges to Mhat itself. " + _early_stopping_gain(curves))),
            writer.table("digits_early_stopping", ["images", "sigma", "||E||_F", "min_k ||W(k) - M||_F", "at step",
                                                   "||E||_2", "min_k ||W(k) - M||_2", "at step", "||W(K) - M||_2, last step"],
                         [[size, curve["sigma"], curve["noise_frobenius"], min(curve["error_frobenius"]),
                           curve["steps"][int(np.argmin(curve["error_frobenius"]))], curve["noise_spectral"],
                           min(curve["error_spectral"]), curve["steps"][int(np.argmin(curve["error_spectral"]))],
                           curve["error_spectral"][-1]] for size, curve in sorted(curves.items())],
                         "Digits covariance: early-stopping error")]

    data = {"sigmas": sigmas, "sigma_max": margins, "ranks": summaries, "curves": curves, "rows": rows, "problem": problem,
            "seed": config.seed}
    writer.data("real_data.json", data)
    writer.page("real_data.md", "Real data: digits covariance with subsample noise", sections)
    return plain(data)


_PAGES = (
    ("catalog.md", "every theorem with its statement and its verdict counts, margins and tightness on the built-in library"),
    ("trajectories.md", "p_i(k) with the guaranteed and the observed low-rank interval, noiseless and perturbed"),
    ("phase_diagrams.md", "where L1 guarantees a low-rank phase and where one is observed, over (alpha, eta / eta_max), depths 2-4"),
    ("noise_sweeps.md", "Q1's interval and sigma_max, P3's iteration bound and P2's recovery error against sigma"),
    ("effective_rank.md", "the incremental staircase of erank(W(k)) for several depths with theorem E's window"),
    ("real_data.md", "the digits covariance with subsample noise: sigma against sigma_max, phases per rank, early stopping"),
)


_SECTION_NAMES = {"digits": "real data", "catalog": "catalog", "phase": "phase diagrams", "noise": "noise sweeps",
                  "sigma_max": "sigma_max", "erank": "effective rank", "trajectory": "trajectories"}


def _machine() -> str:
    """Describe this computer: CPU model, logical CPUs, memory, operating system and Python."""
    model = platform.processor() or "unknown CPU"
    memory = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        kilobytes = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = f", {kilobytes / 2**20:.1f} GiB memory"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{model}, {os.cpu_count()} logical CPUs{memory}, {platform.platform()}, Python {platform.python_version()}"


def _load() -> str:
    """Return a sentence with the system load averages when the run ended, which other processes may have raised."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "the system load average is not available."
    return (f"the system load average when the run ended was {one:.1f} (1 min), {five:.1f} (5 min) and {fifteen:.1f} "
            "(15 min), counting other programs on the machine.")


def _index_page(writer: PageWriter, *, seconds: float, section_seconds: dict[str, float], workers: int, quick: bool) -> None:
    pages = "\n".join(f"- [{name}]({name}): {description}" for name, description in _PAGES)
    others = [name for name in ("benchmarks.md", "hunts") if (writer.out / name).exists()]
    sections = [
        "Regenerable outputs of dmfverify: the catalog verification report and figures of the dynamics of gradient "
        "descent in deep matrix factorization. Every number on these pages comes from the checker, the scalar engine "
        "and the phase summaries of the package; `data/` holds every plotted number as JSON"
        + (", `tables/` the LaTeX tables" if writer.latex else "") + ".",
        "## Pages", pages,
        *([f"Other files in this folder ({', '.join(others)}) are written by other commands."] if others else []),
        "## Regenerating",
        f"`{writer.command}` rewrote this folder" + (" with the quick smoke-test sizes" if quick else "") + ". Options: "
        "`--quick` (one tiny instance and the smallest grids), `--latex` (also LaTeX tables), `--data-dir DIR` (a folder "
        "holding digits.csv.gz instead of scikit-learn's copy), `--workers N` (processes for the sweeps, default 2), "
        "`--timeout SECONDS` (stop tasks still running that long after the start, default 1800).",
        "## Run time",
        f"Measured by `dmfverify report` itself: {seconds:.0f} s wall-clock time with {workers} worker process(es) on "
        f"{_machine()}, on {datetime.date.today().isoformat()}; {_load()} Compute time of the tasks by section, summed over the "
        "workers: " + ", ".join(f"{_SECTION_NAMES.get(name, name)} {value:.0f} s" for name, value in
                                sorted(section_seconds.items(), key=lambda item: -item[1])) + ". The real-data tasks "
        "are the slowest: each subsample needs eigendecompositions of 64 x 64 matrices in mpmath.",
    ]
    writer.page("README.md", "dmfverify reports", sections)


# ------------------------------------------------------------------- entry


def build_reports(out: str | Path = "reports", *, quick: bool = False, latex: bool = False, data_dir: str | Path | None = None,
                  workers: int = 2, timeout: float = 1800.0, config: ReportConfig | None = None,
                  command: str | None = None) -> ReportResult:
    """Compute every report section and write the Markdown pages, figures, data and tables into ``out``.

    Parameters
    ----------
    out : path
        Output folder, created when missing; files of earlier runs are overwritten.
    quick : bool
        Use :meth:`ReportConfig.quick` (a smoke test of about a minute) instead of the full sizes.
    latex : bool
        Also write LaTeX tables under ``out/tables``.
    data_dir : path, optional
        Folder holding ``digits.csv.gz``; without it scikit-learn's copy of the digits data is used.
    workers : int
        Number of processes for the sweeps (1 runs everything in this process).
    timeout : float
        Seconds after the start at which unfinished tasks are stopped and
        reported as timed out on their page (ignored with one worker).
    config : ReportConfig, optional
        Overrides ``quick`` with explicit sizes.
    command : str, optional
        The command line printed on every page as the way to regenerate it;
        by default it is built from the arguments.

    Raises
    ------
    InvalidArgument
        If ``workers < 1``, ``timeout <= 0``, or ``out`` exists and is not a folder.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgument(f"workers = {workers!r} is invalid: it must be an integer >= 1; pass 1 to run in this process.")
    if not timeout > 0:
        raise InvalidArgument(f"timeout = {timeout!r} is invalid: it must be a positive number of seconds.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidArgument(f"report folder {str(out)!r} exists and is not a folder; pass another --out.")
    config = config or (ReportConfig.quick() if quick else ReportConfig())
    data_dir = None if data_dir is None else str(data_dir)
    if command is None:
        command = f"dmfverify report --out {out}" + (" --quick" if quick else "") + (" --latex" if latex else "")
        command += f" --data-dir {data_dir}" if data_dir else ""
        command += f" --workers {workers}" if workers != 2 else ""
        command += f" --timeout {timeout:g}" if timeout != 1800.0 else ""

    started = time.perf_counter()
    tasks = _plan(config, data_dir)
    logger.info("report: %d tasks on %d worker(s) into %s", len(tasks), workers, out)
    results, section_seconds = _run_tasks(tasks, workers, timeout)

    writer = PageWriter(out, command=command, latex=latex)
    data = {
        "catalog": _catalog_page(writer, results),
        "trajectories": _trajectory_page(writer, results, config),
        "phase_diagrams": _phase_page(writer, results, _grid(config)),
        "noise_sweeps": _noise_page(writer, results, _noise_levels(config)),
        "effective_rank": _erank_page(writer, results, config),
        "real_data": _digits_page(writer, results, config),
    }
    seconds = time.perf_counter() - started
    _index_page(writer, seconds=seconds, section_seconds=section_seconds, workers=workers, quick=quick)
    logger.info("report: wrote %d files into %s in %.0f s", len(writer.files), out, seconds)
    return ReportResult(out=out, files=tuple(writer.files), data=data, seconds=seconds)
