"""Tests of replay, the theorem diff and the pytest plugin's corpus fixture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dmfverify.cli import builtin_case_paths, main
from dmfverify.errors import InvalidArgument
from dmfverify.hunt import hunt
from dmfverify.instance import Instance
from dmfverify.replay import diff_exit_code, diff_theorems, exit_code, instance_paths, render_diff, render_replay, replay
from dmfverify.theorem_loader import builtin_theorems, load_theorems
from dmfverify.verdict import Outcome

REPO = Path(__file__).resolve().parents[1]
PLANTED = REPO / "tests" / "quality" / "planted"
LOWER = PLANTED / "h1_lower_constant.py"
HITTING_TIMES = REPO / "theorems" / "hitting_times.py"
SCALAR_CASES = [path for path in builtin_case_paths() if path.name.startswith("scalar-")]


@pytest.fixture(scope="module")
def counterexample_corpus(tmp_path_factory) -> Path:
    """A corpus with one shrunk counterexample of the planted H1 lower bound."""
    corpus = tmp_path_factory.mktemp("corpus")
    result = hunt(load_theorems(LOWER)[0], budget=30, seed=0, corpus=corpus, max_counterexamples=1)
    assert len(result.counterexamples) == 1
    return corpus


def edited_module(tmp_path: Path, old: str, new: str) -> Path:
    text = HITTING_TIMES.read_text()
    assert old in text
    path = tmp_path / "hitting_times_edited.py"
    path.write_text(text.replace(old, new, 1))
    return path


# ------------------------------------------------------------------- replay


def test_replay_counterexample_unchanged(counterexample_corpus):
    theorems = builtin_theorems() + load_theorems(LOWER)
    records = replay([counterexample_corpus], theorems)

    assert len(records) == 1
    assert records[0].stored_verdict == "VIOLATED"
    assert records[0].current.verdict is Outcome.VIOLATED
    assert not records[0].changed
    assert records[0].change() == "unchanged"
    assert exit_code(records) == 1


def test_replay_reports_changed_margin(tmp_path, counterexample_corpus):
    source = next(counterexample_corpus.glob("*.json"))
    data = json.loads(source.read_text())
    data["margin"] = data["margin"] - 1
    data["violated_claims"][0]["margin"] = data["margin"]
    copy = tmp_path / source.name
    copy.write_text(json.dumps(data))

    records = replay([copy], builtin_theorems() + load_theorems(LOWER))

    assert records[0].changed
    assert records[0].change().startswith("margin")
    assert "1 changed since stored" in render_replay(records)


def test_replay_reports_changed_verdict(tmp_path, counterexample_corpus):
    source = next(counterexample_corpus.glob("*.json"))
    data = json.loads(source.read_text())
    data["theorem"] = "H1"
    data["violated_claims"] = []
    copy = tmp_path / source.name
    copy.write_text(json.dumps(data))

    records = replay([copy], builtin_theorems())
    lower = next(record for record in records if record.claim == "lower")

    assert lower.change() == "verdict VIOLATED -> HOLDS"
    assert exit_code(records) == 0


def test_replay_plain_instance_is_new():
    records = replay([SCALAR_CASES[0]], builtin_theorems(), theorem_ids=["H1"])

    assert {record.claim for record in records} == {"lower", "upper"}
    assert all(record.change() == "new" for record in records)
    assert json.loads(render_replay(records, "json"))[0]["verdict"] == "HOLDS"


def test_replay_unknown_theorem_in_file(tmp_path, counterexample_corpus):
    with pytest.raises(InvalidArgument, match="not loaded"):
        replay([counterexample_corpus], builtin_theorems())


def test_instance_paths_skip_hidden_folders(counterexample_corpus):
    paths = instance_paths([counterexample_corpus])
    assert len(paths) == 1
    assert ".hypothesis" not in str(paths[0])


def test_instance_paths_skip_summaries(tmp_path, counterexample_corpus):
    folder = tmp_path / "corpus"
    shutil.copytree(counterexample_corpus, folder)
    (folder / "summary.json").write_text(json.dumps({"theorem": "PLANTED_H1_LOWER", "judged": 30}))

    assert [path.name for path in instance_paths([folder])] == [path.name for path in instance_paths([counterexample_corpus])]


def test_instance_paths_missing(tmp_path):
    with pytest.raises(InvalidArgument, match="was not found"):
        instance_paths([tmp_path / "missing.json"])


# --------------------------------------------------------------------- diff


def test_diff_weaker_lower_bound_is_looser(tmp_path):
    weaker = edited_module(tmp_path, "bound=Phi(u, mu[i], alpha, N) / eta,", "bound=Phi(u, mu[i], alpha, N) / eta - 1,")

    rows = diff_theorems(HITTING_TIMES, weaker, SCALAR_CASES, theorem_ids=["H1"])

    lower = [row for row in rows if row.claim == "lower"]
    upper = [row for row in rows if row.claim == "upper"]
    assert lower and all(row.tighter == "old" for row in lower)
    assert upper and all(row.tighter == "same" for row in upper)
    assert not any(row.changed for row in rows)
    assert diff_exit_code(rows) == 0


def test_diff_false_constant_changes_verdicts(tmp_path):
    false = edited_module(tmp_path, "bound=Phi(u, mu[i], alpha, N) / eta,", "bound=2 * Phi(u, mu[i], alpha, N) / eta,")

    rows = diff_theorems(HITTING_TIMES, false, SCALAR_CASES, theorem_ids=["H1"])

    changed = [row for row in rows if row.changed]
    assert changed
    assert all(row.old.verdict is Outcome.HOLDS and row.new.verdict is Outcome.VIOLATED for row in changed)
    assert diff_exit_code(rows) == 1
    text = render_diff(rows)
    assert f"Verdicts changed: {len(changed)}" in text
    assert "HOLDS -> VIOLATED" in text


def test_diff_requires_common_ids(tmp_path):
    with pytest.raises(InvalidArgument, match="no theorem with the same id"):
        diff_theorems(HITTING_TIMES, LOWER, SCALAR_CASES)


def test_diff_markdown_has_header(tmp_path):
    rows = diff_theorems(HITTING_TIMES, HITTING_TIMES, SCALAR_CASES[:1], theorem_ids=["H2"])
    assert render_diff(rows, "markdown").startswith("| instance | theorem/claim |")


# ---------------------------------------------------------------------- CLI


def test_cli_replay_exit_code(counterexample_corpus, capsys):
    code = main(["replay", str(counterexample_corpus), "--theorems", str(LOWER)])

    assert code == 1
    assert "unchanged" in capsys.readouterr().out


def test_cli_diff_exit_code(tmp_path, capsys):
    false = edited_module(tmp_path, "bound=Phi(u, mu[i], alpha, N) / eta,", "bound=2 * Phi(u, mu[i], alpha, N) / eta,")

    code = main(["diff", str(HITTING_TIMES), str(false), str(SCALAR_CASES[0]), "--theorem", "H1"])

    assert code == 1
    assert "Verdicts changed" in capsys.readouterr().out


# ------------------------------------------------------------ pytest plugin


def test_plugin_catalog_holds_on_library(dmfverify_check):
    verdicts = dmfverify_check.assert_holds("H1", SCALAR_CASES)
    assert all(verdict.theorem == "H1" for verdict in verdicts)


@pytest.mark.dmfverify_theorems(str(LOWER))
def test_plugin_counterexamples_stay_violated(dmfverify_check, counterexample_corpus):
    violated = dmfverify_check.assert_violated("PLANTED_H1_LOWER", counterexample_corpus, claim="lower")
    assert violated


@pytest.mark.dmfverify_theorems(str(LOWER))
def test_plugin_failure_lists_offenders(dmfverify_check, counterexample_corpus):
    with pytest.raises(pytest.fail.Exception, match=r"PLANTED_H1_LOWER does not hold on 1 of 1 claim checks:\n  .*lower VIOLATED"):
        dmfverify_check.assert_holds("PLANTED_H1_LOWER", counterexample_corpus)


def test_plugin_rejects_all_vacuous_corpus(dmfverify_check):
    noiseless = Instance.create(spectrum=["1", "0.5"], depth=3, alpha="0.1", eta="0.2", id="noiseless")
    with pytest.raises(pytest.fail.Exception, match="fewer than min_judged"):
        dmfverify_check.assert_holds("P2", [noiseless])


def test_plugin_unknown_theorem(dmfverify_check):
    with pytest.raises(InvalidArgument, match="unknown theorem id"):
        dmfverify_check.theorem("PLANTED_H1_LOWER")
