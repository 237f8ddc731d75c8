"""Throughput of the scalar kernels against plain mpmath and gmpy2 loops.

Workload: rows with ``N = 3``, ``mu`` spread over [0.5, 2], ``alpha = 0.1`` and
``eta = 1e-6``.  The step is so small that no row reaches its fixed point or stops early,
so every row runs the full horizon.  An eigenvalue-step is one update of one row; rates
count the steps the kernel reports in ``last_step``.  Every rate is the best of
``REPEATS`` runs, because other load on the machine only ever slows a run down.
One-thread rates divide by the CPU time of this process (``time.process_time``), which
other processes competing for the cores inflate far less than wall time.  Threaded rates
divide by wall time, since CPU time adds up over threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import gmpy2
import mpmath
import numpy as np
from mpmath import mp

from dmfverify.kernels import (
    Regime,
    enclose_float,
    enclose_root,
    run_certified,
    run_float64,
)

DEPTH = 3
ETA = 1e-6
ALPHA = 0.1
REPEATS = 3
FLOAT64_TARGET = 1e8  # eigenvalue-steps per second per core
CERTIFIED_TARGET = 300.0  # times the mpmath loop at 30 digits

# Compiles every kernel in a fresh process with an empty numba cache.
_COMPILE_SCRIPT = """
import time
import numpy as np
from dmfverify.kernels import run_float64, run_certified
rows = np.full(40, 1.0)
for parallel in (False, True):
    start = time.perf_counter()
    run_float64(rows, 3, 0.1, 0.01, 5, np.full((40, 1), np.inf), [5], parallel=parallel)
    middle = time.perf_counter()
    run_certified(rows, rows, 3, 0.1, 0.1, 0.01, 0.01, rows, rows, 1, 5,
                  np.full((40, 1), np.inf), np.full((40, 1), np.inf), [5], parallel=parallel)
    end = time.perf_counter()
    print(middle - start, end - middle)
"""


def _rows(m: int) -> dict[str, np.ndarray]:
    mu = np.linspace(0.5, 2.0, m)
    mu_bounds = [enclose_float(value) for value in mu]
    fp_bounds = [enclose_root(value, DEPTH) for value in mu]
    alpha_lo, alpha_hi = enclose_float(str(ALPHA))
    eta_lo, eta_hi = enclose_float(str(ETA))
    levels = np.tile([0.0012, 0.5, 0.9, np.inf], (m, 1))
    return dict(mu=mu, mu_lo=np.array([b[0] for b in mu_bounds]),
                mu_hi=np.array([b[1] for b in mu_bounds]),
                fp_lo=np.array([b[0] for b in fp_bounds]),
                fp_hi=np.array([b[1] for b in fp_bounds]),
                alpha_lo=alpha_lo, alpha_hi=alpha_hi, eta_lo=eta_lo, eta_hi=eta_hi,
                levels=levels)


def _best_rate(work: Callable[[], int], wall_clock: bool) -> float:
    """Return the best of ``REPEATS`` rates of ``work``, which returns its step count."""
    clock = time.perf_counter if wall_clock else time.process_time
    best = 0.0
    for _ in range(REPEATS):
        start = clock()
        steps = work()
        best = max(best, steps / (clock() - start))
    return best


def _float64_rate(m: int, horizon: int, parallel: bool) -> float:
    rows = _rows(m)

    def work() -> int:
        record = run_float64(rows["mu"], DEPTH, ALPHA, ETA, horizon, rows["levels"],
                             [0, horizon], parallel=parallel)
        return int(record.last_step.sum())

    return _best_rate(work, wall_clock=parallel)


def _certified_rate(m: int, horizon: int, parallel: bool) -> float:
    rows = _rows(m)

    def work() -> int:
        record = run_certified(rows["mu_lo"], rows["mu_hi"], DEPTH, rows["alpha_lo"],
                               rows["alpha_hi"], rows["eta_lo"], rows["eta_hi"], rows["fp_lo"],
                               rows["fp_hi"], Regime.RISING, horizon, rows["levels"],
                               rows["levels"], [0, horizon], parallel=parallel)
        return int(record.last_step.sum())

    return _best_rate(work, wall_clock=parallel)


def mpmath_rate(steps: int) -> float:
    """Time the plain recurrence in mpmath at 30 significant digits."""

    def work() -> int:
        with mp.workdps(30):
            mu = mp.mpf(1)
            eta = mp.mpf(ETA)
            x = mp.mpf(ALPHA)
            for _ in range(steps):
                xp = x ** (DEPTH - 1)
                x = x + eta * xp * (mu - xp * x)
        return steps

    return _best_rate(work, wall_clock=False)


def gmpy2_rate(steps: int) -> float:
    """Time the plain recurrence with gmpy2 ``mpfr`` numbers at 100 bits."""

    def work() -> int:
        with gmpy2.context(gmpy2.get_context(), precision=100):
            mu = gmpy2.mpfr(1)
            eta = gmpy2.mpfr(ETA)
            x = gmpy2.mpfr(ALPHA)
            for _ in range(steps):
                xp = x ** (DEPTH - 1)
                x = x + eta * xp * (mu - xp * x)
        return steps

    return _best_rate(work, wall_clock=False)


def cold_compile_seconds() -> list[float]:
    """Compile every kernel in a subprocess whose numba cache directory is empty.

    Returns the seconds for float64 and certified, serial then parallel.
    """
    with tempfile.TemporaryDirectory() as cache:
        environment = {**os.environ, "NUMBA_CACHE_DIR": cache}
        output = subprocess.run([sys.executable, "-c", _COMPILE_SCRIPT], env=environment,
                                capture_output=True, text=True, check=True).stdout
    return [float(value) for value in output.split()]


def warm_up() -> float:
    """Call every kernel once, so later timings exclude compilation, and return the seconds."""
    start = time.perf_counter()
    for parallel in (False, True):
        _float64_rate(40, 10, parallel)
        _certified_rate(40, 10, parallel)
    return time.perf_counter() - start


def run(quick: bool) -> list[dict]:
    scale = 10 if quick else 1
    compile_times = cold_compile_seconds()
    warm_seconds = warm_up()

    many = 64
    many_horizon = 3_000_000 // scale
    single_horizon = 30_000_000 // scale
    float64_many = _float64_rate(many, many_horizon, parallel=False)
    float64_single = _float64_rate(1, single_horizon, parallel=False)
    float64_threads = _float64_rate(many, many_horizon, parallel=True)
    certified_many = _certified_rate(many, many_horizon // 3, parallel=False)
    certified_single = _certified_rate(1, single_horizon // 3, parallel=False)
    certified_threads = _certified_rate(many, many_horizon // 3, parallel=True)
    mpmath_steps = mpmath_rate(100_000 // scale)
    gmpy2_steps = gmpy2_rate(500_000 // scale)

    unit = "eigenvalue-steps/s"
    one_thread = f"N={DEPTH}, one thread, CPU time, best of {REPEATS}"
    return [
        dict(name=f"float64 kernel, {many} rows", value=float64_many, unit=unit,
             baseline=FLOAT64_TARGET, ratio=float64_many / FLOAT64_TARGET, target=1.0,
             note=f"{one_thread}; baseline is the 1e8 per-core target"),
        dict(name="float64 kernel, 1 row", value=float64_single, unit=unit,
             baseline=FLOAT64_TARGET, ratio=float64_single / FLOAT64_TARGET, target=1.0,
             note=f"{one_thread}; a single row is latency-bound"),
        dict(name=f"float64 kernel, {many} rows, threads", value=float64_threads, unit=unit,
             baseline=float64_many, ratio=float64_threads / float64_many, target=None,
             note="parallel=True, wall time; baseline is the one-thread rate"),
        dict(name=f"certified kernel, {many} rows", value=certified_many, unit=unit,
             baseline=mpmath_steps, ratio=certified_many / mpmath_steps,
             target=CERTIFIED_TARGET, note=f"{one_thread}; baseline is the mpmath loop"),
        dict(name="certified kernel, 1 row", value=certified_single, unit=unit,
             baseline=mpmath_steps, ratio=certified_single / mpmath_steps, target=None,
             note=f"{one_thread}; baseline is the mpmath loop"),
        dict(name=f"certified kernel, {many} rows, threads", value=certified_threads,
             unit=unit, baseline=certified_many, ratio=certified_threads / certified_many,
             target=None, note="parallel=True, wall time; baseline is the one-thread rate"),
        dict(name="mpmath loop, 30 digits", value=mpmath_steps, unit=unit, baseline=None,
             ratio=None, target=None,
             note=f"mp.workdps(30), backend {mpmath.libmp.BACKEND}, CPU time, best of {REPEATS}"),
        dict(name="gmpy2 loop, 100 bits", value=gmpy2_steps, unit=unit, baseline=mpmath_steps,
             ratio=gmpy2_steps / mpmath_steps, target=None,
             note="mpfr at precision=100, CPU time; baseline is the mpmath loop"),
        dict(name="compile float64 kernel", value=compile_times[0], unit="s", baseline=None,
             ratio=None, target=None,
             note=f"empty numba cache; parallel variant {compile_times[2]:.3g} s"),
        dict(name="compile certified kernel", value=compile_times[1], unit="s", baseline=None,
             ratio=None, target=None,
             note=f"empty numba cache; parallel variant {compile_times[3]:.3g} s"),
        dict(name="first calls in this process", value=warm_seconds, unit="s", baseline=None,
             ratio=None, target=None,
             note="all four kernels; a load from the numba cache unless the source changed"),
    ]
