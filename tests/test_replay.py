"""Tests of replay, the theorem diff and the pytest plugin's corpus fixture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dmfverify.cli import builtin_case_paths, main
from dmfverify.errors import InvalidArgument
from dmfverify.expected_values import compare_expected
from dmfverify.hunt import hunt
from dmfverify.instance import Instance
from dmfverify.replay import diff_exit_code, diff_theorems, exit_code, instance_paths, render_diff, render_replay, replay, replay_expected
from dmfverify.theorem_loader import builtin_theorems, load_theorems
from dmfverify.verdict import Outcome

REPO = Path(__file__).resolve().parents[1]
PLANTED = REPO / "tests" / "quality" / "planted"
LOWER = PLANTED / "h1_lower_constant.py"
HITTING_TIMES = REPO / "theorems" / "hitting_times.py"
SCALAR_CASES = [path for path in builtin_case_paths() if path.name.startswith("scalar-")]
BUILTIN_CASES = {path.stem: path for path in builtin_case_paths()}


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


def case_copy(tmp_path: Path, name: str, edit=None) -> Path:
    """Copy a built-in reference case into tmp_path, after applying ``edit`` to its expected block."""
    data = json.loads(BUILTIN_CASES[name].read_text())
    if edit is not None:
        edit(data["expected"])
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def by_key(comparisons) -> dict:
    return {item.key: item for item in comparisons}


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
    assert json.loads(render_replay(records, "json"))["claims"][0]["verdict"] == "HOLDS"


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


# ---------------------------------------------------------- expected values


def test_expected_reference_case_matches(tmp_path):
    path = case_copy(tmp_path, "scalar-depth3")

    comparisons = by_key(replay_expected([path]))

    assert comparisons["hitting_times"].status == "matching"
    assert comparisons["hitting_times"].observed == [109, 177, 182, 201, 273]
    assert comparisons["product_at_step"].status == "matching"
    assert not any(item.differs for item in comparisons.values())
    assert exit_code([], list(comparisons.values())) == 0


def test_expected_edited_hitting_time_differs(tmp_path):
    def edit(expected):
        expected["hitting_times"][1] = 178

    comparisons = replay_expected([case_copy(tmp_path, "scalar-depth3", edit)])
    hitting = by_key(comparisons)["hitting_times"]

    assert hitting.status == "differs"
    assert hitting.describe() == "differs ([1] expected 178, observed 177)"
    assert exit_code([], comparisons) == 1
    assert "scalar-depth3.json  hitting_times       differs ([1] expected 178, observed 177)" in render_replay([], "text", comparisons)


def test_expected_edited_learn_time_differs(tmp_path):
    def edit(expected):
        expected["learn_times"] = [33]
        expected["observed_T0"] = 33

    comparisons = by_key(replay_expected([case_copy(tmp_path, "phase-depth2-rank1", edit)]))

    assert comparisons["learn_times"].describe() == "differs ([0] expected 33, observed 32)"
    assert comparisons["observed_T0"].describe() == "differs (expected 33, observed 32)"
    assert comparisons["leak_times"].status == "matching"
    assert comparisons["observed_T1"].status == "matching"


def test_expected_never_reached_differs(tmp_path):
    def edit(expected):
        expected["leak_times"][1] = None

    leak = by_key(replay_expected([case_copy(tmp_path, "phase-depth2-rank1", edit)]))["leak_times"]

    assert leak.describe() == "differs ([1] expected null (never reached), observed 60)"


def test_expected_unknown_keys_not_compared(tmp_path):
    def edit(expected):
        expected["my_bound"] = "12.5"

    comparisons = replay_expected([case_copy(tmp_path, "scalar-depth3", edit)])

    assert [item.key for item in comparisons] == ["hitting_times", "product_at_step", "bracket", "step_size_number_S", "my_bound"]
    for key in ("bracket", "step_size_number_S", "my_bound"):
        assert by_key(comparisons)[key].describe() == "not compared (replay computes no fresh value for this key)"
    assert "2 not compared" not in render_replay([], "text", comparisons)
    assert "3 not compared" in render_replay([], "text", comparisons)


def test_expected_exact_tie_at_step_zero(tmp_path):
    comparisons = replay_expected([case_copy(tmp_path, "scalar-depth2")])
    hitting = by_key(comparisons)["hitting_times"]

    assert hitting.status == "tie"
    assert hitting.observed == [0, 20, 34, 56]
    assert "p(0) = alpha^N equals the level 0.01 exactly" in hitting.detail
    assert exit_code([], comparisons) == 0


@pytest.mark.parametrize(("expected", "status"), [([1], "undecided"), ([2], "undecided"), ([3], "differs"), ([0], "differs")])
def test_expected_wide_range_undecided(expected, status):
    # p(1) = (1/2 + 1/4 * 1/2 * (1 - 1/4))^2 = 361/1024 equals the level exactly, so no
    # outward-rounded run separates step 1 from step 2.
    instance = Instance.create(spectrum=["1"], depth=2, alpha="0.5", eta="0.25", thresholds=["361/1024"],
                               expected={"hitting_times": expected})

    hitting = compare_expected(instance)[0]

    assert hitting.observed == [[1, 2]]
    assert hitting.status == status


def test_expected_real_values_within_tolerance(tmp_path):
    comparisons = by_key(replay_expected([case_copy(tmp_path, "perturbed-depth3-rank2")]))

    assert comparisons["perturbed_eigenvalues"].status == "matching"
    assert comparisons["sigma"].status == "matching"
    assert comparisons["learn_times_to_(1-eps)(lambda_i-sigma)"].status == "matching"
    assert comparisons["guaranteed_Q1"].status == "not compared"


def test_expected_real_value_beyond_tolerance(tmp_path):
    def edit(expected):
        expected["sigma"] = "0.05000000001"
        # A relative change of about 1e-13, inside the tolerance.
        expected["perturbed_eigenvalues"][2] = "0.12311348501600"

    comparisons = by_key(replay_expected([case_copy(tmp_path, "perturbed-depth3-rank2", edit)]))

    assert comparisons["sigma"].status == "differs"
    assert comparisons["sigma"].detail.startswith("expected 0.05000000001, observed 0.049999999999999978 (certified enclosure [")
    assert comparisons["perturbed_eigenvalues"].status == "matching"
    assert exit_code([], list(comparisons.values())) == 1


def test_expected_product_edit_differs(tmp_path):
    def edit(expected):
        # The reference values are p(10) = 0.001165218902634511... and p(100) = 0.007771359493406862...,
        # so the edited p(10) is off by a relative 1e-15 and the edited p(100) by 4e-10.
        expected["product_at_step"] = {"1": expected["product_at_step"]["1"], "10": "0.00116521890263451", "100": "0.00777135949"}

    product = by_key(replay_expected([case_copy(tmp_path, "scalar-depth3", edit)]))["product_at_step"]

    assert product.status == "differs"
    assert product.detail.startswith("step 100: expected 0.00777135949, observed 0.0077713594934068")
    assert "step 10:" not in product.detail
    assert list(product.observed) == ["1", "10", "100"]


def test_expected_malformed_entry_not_compared(tmp_path):
    def edit(expected):
        expected["hitting_times"] = 109

    hitting = by_key(replay_expected([case_copy(tmp_path, "scalar-depth3", edit)]))["hitting_times"]

    assert hitting.describe() == "not compared (expected 109 is not a list of step counts)"


def test_expected_counterexample_files_add_nothing(counterexample_corpus):
    assert replay_expected([counterexample_corpus]) == []


def test_expected_json_lists_every_key(tmp_path):
    comparisons = replay_expected([case_copy(tmp_path, "phase-depth2-rank1")])

    output = json.loads(render_replay([], "json", comparisons))

    assert [item["key"] for item in output["expected"]] == ["learn_times", "leak_times", "observed_T0", "observed_T1", "guaranteed_L1", "guaranteed_L2"]
    assert output["expected"][0]["observed"] == [32]
    assert output["expected"][0]["arithmetic"] == "certified, 53 bits"
    assert json.loads(render_replay([], "json"))["expected"] is None


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


def test_cli_replay_expected_mismatch(tmp_path, capsys):
    def edit(expected):
        expected["hitting_times"][0] = 110

    path = case_copy(tmp_path, "scalar-depth3", edit)

    code = main(["replay", str(path), "--theorem", "H2", "--format", "markdown"])

    output = capsys.readouterr().out
    assert code == 1
    assert "| scalar-depth3.json | hitting_times | differs ([0] expected 110, observed 109) |" in output
    assert "| scalar-depth3.json | bracket | not compared (replay computes no fresh value for this key) |" in output
    assert "within a relative 1e-12 of its certified enclosure" in output


def test_cli_replay_no_expected_skips(tmp_path, capsys):
    def edit(expected):
        expected["hitting_times"][0] = 110

    path = case_copy(tmp_path, "scalar-depth3", edit)

    code = main(["replay", str(path), "--theorem", "H2", "--no-expected", "--format", "json"])

    output = json.loads(capsys.readouterr().out)
    assert code == 0
    assert output["expected"] is None
    assert output["claims"]


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
