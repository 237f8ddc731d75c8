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
with ``latex=True``, LaTeX tables under ``tables/``.  This module holds the
report's sizes (:class:`ReportConfig`), the planning of the tasks and
:func:`build_reports`.  The computations are in :mod:`dmfverify.report_tasks`
and the page writers in :mod:`dmfverify.report_pages`.  The computations are
independent tasks, run largest first in ``workers`` processes started with the
``spawn`` method; progress goes to the module logger at INFO level.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dmfverify.cli import builtin_case_paths
from dmfverify.errors import InvalidArgument
from dmfverify.figures import PageWriter
from dmfverify.report_pages import (
    _catalog_page,
    _digits_page,
    _erank_page,
    _index_page,
    _noise_page,
    _phase_page,
    _trajectory_page,
)
from dmfverify.report_tasks import (
    DIGITS_PROBLEM,
    ERANK_PROBLEM,
    NOISE_PROBLEM,
    PHASE_PROBLEM,
    _catalog_task,
    _decimal,
    _digits_task,
    _erank_task,
    _guarded,
    _noise_task,
    _phase_row_task,
    _sigma_max_task,
    _trajectory_task,
)
from dmfverify.theorem_loader import builtin_theorems

__all__ = ["ReportConfig", "ReportResult", "build_reports", "PHASE_PROBLEM", "NOISE_PROBLEM", "ERANK_PROBLEM", "DIGITS_PROBLEM"]

logger = logging.getLogger(__name__)


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
