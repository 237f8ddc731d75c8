"""Hunt throughput: instances judged per second, and how much of it is drawing instances.

Workload: :func:`dmfverify.hunt.hunt` with a fixed budget and seed 0, in one
process and without a corpus, so nothing is written or replayed.  It runs on
a theorem of each claim kind: H1 (hitting times), L1 (a low-rank window), P2
(noisy targets and spectral observables) and the conjecture ER (an
effective-rank scan over every step).  The hunts write no counterexample
(``max_counterexamples=0``), so nothing is shrunk and every check is of a new
instance.  Rates use CPU time of this process (``time.process_time``), which
other load on a shared machine inflates far less than wall time, and are the
best of ``REPEATS`` runs.

The draw rate measures :func:`dmfverify.strategies.instances_for` alone, so the
gap between it and the hunt rate is the cost of the checks.

Run ``python benchmarks/bench_hunt.py`` for a table; ``benchmarks/run.py`` calls :func:`run`.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, seed, settings

from dmfverify.hunt import hunt
from dmfverify.strategies import instances_for
from dmfverify.theorem_loader import builtin_theorems, select

REPEATS = 2
THEOREMS = ("H1", "L1", "P2", "ER")


def _hunt_rate(theorem_id: str, budget: int) -> tuple[float, dict]:
    theorem = select(builtin_theorems(), [theorem_id])[0]
    best, counts = 0.0, {}
    for _ in range(REPEATS):
        started = time.process_time()
        result = hunt(theorem, budget=budget, seed=0, max_counterexamples=0, check_timeout=None)
        rate = result.judged / max(time.process_time() - started, 1e-9)
        if rate > best:
            best, counts = rate, result.counts
    return best, counts


def _draw_rate(theorem_id: str, draws: int) -> float:
    theorem = select(builtin_theorems(), [theorem_id])[0]
    drawn = []

    @seed(0)
    @settings(max_examples=draws, database=None, deadline=None, suppress_health_check=list(HealthCheck), phases=["generate"])
    @given(instances_for(theorem))
    def collect(instance):
        drawn.append(instance)

    started = time.process_time()
    collect()
    return len(drawn) / max(time.process_time() - started, 1e-9)


def run(quick: bool) -> list[dict]:
    budget = 20 if quick else 100
    rows = []
    for theorem_id in THEOREMS:
        rate, counts = _hunt_rate(theorem_id, budget)
        draws = _draw_rate(theorem_id, budget)
        verdicts = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
        rows.append(dict(name=f"hunt {theorem_id}", value=rate, unit="instances/s", baseline=None, ratio=None, target=None,
                         note=f"budget {budget}, seed 0, CPU time, best of {REPEATS}; verdicts: {verdicts}"))
        rows.append(dict(name=f"draw {theorem_id}", value=draws, unit="instances/s", baseline=rate, ratio=draws / rate, target=None,
                         note="instances_for alone; ratio = draw rate / hunt rate"))
    return rows


if __name__ == "__main__":
    for row in run(quick=False):
        print(f"{row['name']:10s} {row['value']:10.2f} {row['unit']:12s} {row['note']}")
