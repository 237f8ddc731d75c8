"""Hunting in several local processes on one corpus.

:func:`hunt_parallel` starts one :func:`dmfverify.hunt.hunt` per worker
process, each with its own seed and share of the budget, collects their
progress snapshots into one display and merges their results.  Ctrl-C or
SIGTERM in the parent is forwarded to the workers, which certify and write
what they found before they report.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
import signal
import threading
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from dmfverify.errors import InvalidArgument
from dmfverify.hunt import _stop_signals, _Terminated, hunt
from dmfverify.hunt_progress import HuntProgress, HuntResult

__all__ = ["hunt_parallel"]

logger = logging.getLogger(__name__)


def _result_from_dict(data: dict[str, Any]) -> HuntResult:
    names = {name for name in HuntResult.__dataclass_fields__}
    return HuntResult(**{key: value for key, value in data.items() if key in names})


def _worker_main(messages, worker: int, theorem_id: str, theorem_paths: list[str], log_level: int, arguments: dict[str, Any]) -> None:
    """Run one hunt in a child process and send progress snapshots and the result to the parent."""
    from dmfverify.theorem_loader import builtin_theorems, load_theorems, select

    logging.basicConfig(level=log_level, format=f"%(levelname)s worker {worker} %(name)s: %(message)s")
    theorems = builtin_theorems()
    for path in theorem_paths:
        theorems.extend(load_theorems(path))
    theorem = select(theorems, [theorem_id])[0]

    def send(snapshot: HuntProgress) -> None:
        messages.put(("progress", worker, asdict(snapshot)))

    result = hunt(theorem, worker=worker, progress=send, **arguments)
    # A SIGTERM from the parent that arrives after the hunt has stopped must not kill the process before it reports.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    messages.put(("result", worker, result.to_dict()))


def hunt_parallel(
    theorem_id: str,
    *,
    workers: int = 2,
    theorem_paths: tuple[str, ...] = (),
    budget: int | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    corpus: str | Path | None = None,
    progress: Callable[[HuntProgress], None] | None = None,
    **hunt_arguments: Any,
) -> HuntResult:
    """Run :func:`hunt` in ``workers`` local processes on one corpus and merge the results.

    Worker ``j`` uses the seed ``seed + 7919 j`` and a share of the budget
    (rounded up).  The theorem is loaded again in each process from the
    catalog and ``theorem_paths``, so user theorem modules and the observables
    they register work.  Counterexample files are named by the instance
    fingerprint, so workers never overwrite each other's different finds.
    Ctrl-C or SIGTERM in the parent is forwarded to the workers, which write
    what they found and report.
    """
    if workers < 1:
        raise InvalidArgument(f"workers = {workers} is invalid: it must be at least 1.")
    if budget is None and time_limit is None:
        budget = 1000
    share = None if budget is None else -(-budget // workers)
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    processes = []
    for worker in range(workers):
        arguments = dict(hunt_arguments, budget=share, time_limit=time_limit, seed=seed + 7919 * worker, corpus=corpus)
        process = context.Process(target=_worker_main, args=(messages, worker, theorem_id, list(theorem_paths),
                                                              logging.getLogger().getEffectiveLevel(), arguments), daemon=False)
        process.start()
        processes.append(process)

    started = time.monotonic()
    snapshots: dict[int, dict[str, Any]] = {}
    results: dict[int, HuntResult] = {}
    stop = threading.Event()
    forwarded = False
    with _stop_signals(stop.set):
        try:
            while len(results) < workers:
                try:
                    if stop.is_set() and not forwarded:
                        forwarded = True
                        for process in processes:
                            if process.is_alive():
                                os.kill(process.pid, signal.SIGTERM)
                    kind, worker, payload = messages.get(timeout=1.0)
                except queue_module.Empty:
                    if not any(process.is_alive() for process in processes):
                        break
                    continue
                except (KeyboardInterrupt, _Terminated):
                    # The flag is set: the next pass forwards the signal to the workers.
                    continue
                if kind == "progress":
                    snapshots[worker] = payload
                    if progress is not None:
                        progress(_combined_progress(theorem_id, snapshots, time.monotonic() - started))
                else:
                    results[worker] = _result_from_dict(payload)
        finally:
            for process in processes:
                process.join(timeout=30)

    missing = [worker for worker in range(workers) if worker not in results]
    for worker in missing:
        logger.error("hunt worker %d ended without a result (exit code %s); its counterexamples are still in the corpus",
                     worker, processes[worker].exitcode)
    merged = HuntResult(theorem_id, seed=seed, budget=budget, time_limit=time_limit, workers=workers)
    for worker in sorted(results):
        merged.merge(results[worker])
    merged.interrupted = merged.interrupted or stop.is_set()
    merged.elapsed = time.monotonic() - started
    return merged


def _combined_progress(theorem_id: str, snapshots: dict[int, dict[str, Any]], elapsed: float) -> HuntProgress:
    counts: Counter = Counter()
    best = None
    for snapshot in snapshots.values():
        counts.update(snapshot["counts"])
        if snapshot["best_score"] is not None:
            best = snapshot["best_score"] if best is None else max(best, snapshot["best_score"])
    return HuntProgress(theorem_id, sum(s["judged"] for s in snapshots.values()), elapsed, best, dict(counts),
                        sum(s["counterexamples"] for s in snapshots.values()), -1)
