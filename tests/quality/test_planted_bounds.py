"""The hunter must find planted false bounds within a fixed budget and seed, and nothing in a true one.

Each planted module in ``planted/`` is a small theorem with one deliberate
mistake, each of a different kind.  The four mistakes are a constant off in a
lower bound, a missing logarithmic term in an upper bound, a spectral
condition that ignores the depth, and a noise bound that uses ``sigma`` where
Weyl's inequality needs ``2 sigma``.  A hunt of ``BUDGET`` instances with ``SEED`` must write a
certified counterexample for each; the same hunt of the true theorem H1 must
write none.  A hunt takes about 2 to 5 seconds of CPU time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmfverify.checker import CheckOptions, check
from dmfverify.hunt import hunt
from dmfverify.instance import load_instance
from dmfverify.theorem_loader import builtin_theorems, load_theorems, select
from dmfverify.verdict import Outcome

PLANTED = Path(__file__).resolve().parent / "planted"
BUDGET = 40
SEED = 0
TIME_LIMIT = 20.0

# The depth-blind spectral condition fails only on a thin set of instances (depth >= 3, a gap
# close to the limit ratio), and which instances a seeded hunt draws first depends on the import
# state of the process, so its hunt gets a larger budget.
DEPTH_BLIND_BUDGET = 300
DEPTH_BLIND_TIME_LIMIT = 120.0

CASES = [
    ("h1_lower_constant.py", "PLANTED_H1_LOWER", "lower"),
    ("h1_upper_without_log.py", "PLANTED_H1_UPPER", "upper"),
    ("phase_depth_blind.py", "PLANTED_PHASE_DEPTH_BLIND", "learned"),
    ("eigengap_one_sigma.py", "PLANTED_EIGENGAP", "eigengap"),
]


@pytest.mark.parametrize(("module", "theorem_id", "claim"), CASES, ids=[case[1] for case in CASES])
def test_hunt_finds_planted_bound(tmp_path, module, theorem_id, claim):
    theorem = load_theorems(PLANTED / module)[0]
    assert theorem.id == theorem_id

    budget, limit = (DEPTH_BLIND_BUDGET, DEPTH_BLIND_TIME_LIMIT) if "DEPTH_BLIND" in theorem_id else (BUDGET, TIME_LIMIT)
    result = hunt(theorem, budget=budget, seed=SEED, corpus=tmp_path, time_limit=limit, max_counterexamples=1)

    assert len(result.counterexamples) == 1, result.summary()
    record = json.loads(Path(result.counterexamples[0]).read_text())
    assert record["theorem"] == theorem_id
    assert record["claim"] == claim
    assert record["verdict"] == "VIOLATED"
    assert record["margin"] is None or record["margin"] < 0

    replayed = check(theorem, load_instance(result.counterexamples[0]), CheckOptions(max_bits=1024))
    assert Outcome.VIOLATED in {verdict.verdict for verdict in replayed}


def test_hunt_finds_nothing_in_true_bound(tmp_path):
    theorem = select(builtin_theorems(), ["H1"])[0]

    result = hunt(theorem, budget=BUDGET, seed=SEED, corpus=tmp_path, time_limit=TIME_LIMIT)

    assert result.counterexamples == []
    assert result.counts.get("HOLDS", 0) >= BUDGET // 2, result.summary()
    assert result.vacuous_fraction < 0.5


def test_depth_blind_phase_holds_at_depth_two(tmp_path):
    # For N = 2 the planted statement is L1 itself, so every violation must come from a depth >= 3.
    theorem = load_theorems(PLANTED / "phase_depth_blind.py")[0]

    result = hunt(theorem, budget=DEPTH_BLIND_BUDGET, seed=SEED, corpus=tmp_path, time_limit=DEPTH_BLIND_TIME_LIMIT, max_counterexamples=1)

    depths = [load_instance(path).depth for path in result.counterexamples]
    assert depths and min(depths) >= 3
