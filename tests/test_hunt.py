"""Tests of the counterexample hunter: corpus files, resumption, interruption, errors, workers and the CLI."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dmfverify.checker import CheckOptions, check
from dmfverify.cli import main
from dmfverify.errors import InvalidArgument
from dmfverify.hunt import HuntProgress, HuntResult, ProgressLine, hunt
from dmfverify.hunt_parallel import hunt_parallel
from dmfverify.replay import corpus_files, counterexample_record, instance_key, violation_score
from dmfverify.instance import Instance, load_instance
from dmfverify.theorem_loader import builtin_theorems, load_theorems, select
from dmfverify.verdict import Outcome, Verdict

PLANTED = Path(__file__).resolve().parent / "quality" / "planted"
LOWER = PLANTED / "h1_lower_constant.py"


@pytest.fixture(scope="module")
def planted_lower():
    return load_theorems(LOWER)[0]


def verdict(outcome, margin, bound, observed=None):
    return Verdict("T", "claim", "x", outcome, observed=observed, bound=bound, margin=margin)


# ------------------------------------------------------------------- scores


def test_score_positive_only_when_violated():
    assert violation_score(verdict(Outcome.VIOLATED, -30.0, 120.0)) == pytest.approx(0.25)
    assert violation_score(verdict(Outcome.HOLDS, 2.0, 100.0)) == pytest.approx(-0.02)


def test_score_small_bound_counts_as_one():
    assert violation_score(verdict(Outcome.HOLDS, 0.1, 0.0)) == pytest.approx(-0.1)
    assert violation_score(verdict(Outcome.HOLDS, 0.1, "[3, 4]")) == pytest.approx(-0.1)


def test_score_missing_margin_is_none():
    assert violation_score(verdict(Outcome.INCONCLUSIVE, None, 5.0)) is None
    assert violation_score(verdict(Outcome.HOLDS, float("inf"), 5.0)) is None


def test_instance_key_ignores_id():
    instance = Instance.create(spectrum=["1"], depth=2, alpha="0.1", eta="0.5", id="a")
    assert instance_key(instance) == instance_key(instance.with_changes(id="b"))
    assert instance_key(instance) != instance_key(instance.with_changes(alpha="0.2"))


def test_record_requires_violation(planted_lower):
    instance = Instance.create(spectrum=["1"], depth=2, alpha="0.1", eta="0.5")
    with pytest.raises(InvalidArgument, match="no VIOLATED claim"):
        counterexample_record(planted_lower, instance, [verdict(Outcome.HOLDS, 1.0, 2.0)])


# --------------------------------------------------------------------- hunt


def test_hunt_writes_replayable_counterexample(tmp_path, planted_lower):
    result = hunt(planted_lower, budget=30, seed=0, corpus=tmp_path, max_counterexamples=1)

    assert len(result.counterexamples) == 1
    path = Path(result.counterexamples[0])
    assert corpus_files(tmp_path) == [path]
    record = json.loads(path.read_text())
    for key in ("instance", "theorem", "claim", "verdict", "margin", "found_at"):
        assert key in record
    assert record["max_bits"] == 1024
    instance = load_instance(path)
    assert instance.id == path.stem.replace("-lower", "")
    assert Outcome.VIOLATED in {v.verdict for v in check(planted_lower, instance, CheckOptions(max_bits=1024))}
    assert (tmp_path / ".hypothesis").is_dir()


def test_hunt_counts_add_up(tmp_path, planted_lower):
    result = hunt(planted_lower, budget=25, seed=1, corpus=tmp_path, max_counterexamples=0)

    assert result.counterexamples == []
    assert result.judged == 25
    assert sum(result.counts.values()) == result.judged
    assert result.counts.get("VIOLATED", 0) > 0
    assert result.best_score > 0
    assert result.best_instance["claim"] == "lower"
    assert Instance.from_dict(result.best_instance["instance"]).depth >= 2
    assert result.closest["margin"] >= 0
    assert 0 <= result.vacuous_fraction <= 1
    assert result.throughput > 0


def test_hunt_resumes_without_duplicates(tmp_path, planted_lower):
    first = hunt(planted_lower, budget=30, seed=0, corpus=tmp_path, max_counterexamples=1)
    second = hunt(planted_lower, budget=30, seed=0, corpus=tmp_path, max_counterexamples=1)

    assert len(first.counterexamples) == 1
    assert not set(first.counterexamples) & set(second.counterexamples)
    keys = [instance_key(load_instance(path)) for path in corpus_files(tmp_path)]
    assert len(keys) == len(set(keys))


def test_hunt_keeps_violation_on_interrupt(tmp_path, planted_lower):
    interrupted = []

    def interrupt_after_violation(progress: HuntProgress) -> None:
        if progress.counts.get("VIOLATED", 0) >= 1 and not interrupted:
            interrupted.append(progress.judged)
            raise KeyboardInterrupt

    result = hunt(planted_lower, budget=200, seed=0, corpus=tmp_path, progress=interrupt_after_violation)

    assert result.interrupted
    assert result.judged < 200
    assert result.counterexamples
    assert all(Path(path).exists() for path in result.counterexamples)


def test_hunt_respects_time_limit(planted_lower):
    result = hunt(planted_lower, time_limit=2.0, seed=0, max_counterexamples=0)

    assert result.elapsed < 15
    assert result.judged >= 1


# The alarm may fire inside a garbage-collection callback, where Python reports and ignores the exception;
# the hunt's repeating alarm then stops the check, so the report is expected noise here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_hunt_check_timeout_gives_error(tmp_path, planted_lower):
    result = hunt(planted_lower, budget=3, seed=0, corpus=tmp_path, check_timeout=1e-4)

    # A check that finishes before the timer is first consulted can still come out HOLDS or VIOLATED,
    # and shrinking a violation adds checks: at most max_errors (10) ERROR instances are kept.
    assert result.counts.get("ERROR", 0) >= 1
    assert len(result.errors) == min(result.counts["ERROR"], 10)
    record = json.loads(Path(result.errors[0]).read_text())
    assert "timed out" in record["reason"]


def test_hunt_rejects_bad_budget(planted_lower):
    with pytest.raises(InvalidArgument, match="budget"):
        hunt(planted_lower, budget=0)


def test_hunt_without_corpus_writes_nothing(tmp_path, planted_lower, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = hunt(planted_lower, budget=20, seed=0, max_counterexamples=1)

    assert list(tmp_path.iterdir()) == []
    assert result.counterexamples and result.counterexamples[0].startswith("<not written")


def test_parallel_hunt_merges_workers(tmp_path):
    result = hunt_parallel("PLANTED_H1_LOWER", workers=2, theorem_paths=(str(LOWER),), budget=16, seed=0, corpus=tmp_path,
                           max_counterexamples=1)

    assert result.workers == 2
    assert result.judged >= 16
    assert sum(result.counts.values()) == result.judged
    assert result.counterexamples
    assert all(Path(path).exists() for path in result.counterexamples)


def test_result_merge_keeps_best_score():
    first = HuntResult("T", judged=3, counts={"HOLDS": 3}, best_score=-0.5)
    second = HuntResult("T", judged=2, counts={"HOLDS": 1, "VIOLATED": 1}, best_score=0.2, counterexamples=["a.json"],
                        best_instance={"claim": "c"})
    first.merge(second)
    assert first.best_instance == {"claim": "c"}
    assert first.judged == 5
    assert first.counts == {"HOLDS": 4, "VIOLATED": 1}
    assert first.best_score == 0.2
    assert first.counterexamples == ["a.json"]


# ----------------------------------------------------------------- display


def test_progress_line_plain_stream_is_rate_limited():
    stream = io.StringIO()
    line = ProgressLine(stream, interval=3600)
    snapshot = HuntProgress("H1", 10, 2.0, -0.1, {"HOLDS": 8, "VACUOUS": 2}, 0)
    line.update(snapshot)
    line.update(snapshot)
    line.close()
    assert stream.getvalue().count("\n") == 1
    assert "5.00/s" in stream.getvalue()
    assert "vacuous 20%" in stream.getvalue()


def test_progress_line_terminal_rewrites():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    line = ProgressLine(stream)
    line.update(HuntProgress("H1", 1, 1.0, None, {}, 0))
    line.update(HuntProgress("H1", 2, 1.0, None, {}, 0))
    line.close()
    assert stream.getvalue().count("\r") == 2
    assert stream.getvalue().endswith("\n")


# --------------------------------------------------------------------- CLI


def test_cli_hunt_exit_code_and_json(tmp_path, capsys):
    summary = tmp_path / "summary.json"
    code = main(["hunt", "PLANTED_H1_LOWER", "--theorems", str(LOWER), "--budget", "20", "--corpus", str(tmp_path / "corpus"),
                 "--max-counterexamples", "1", "--json", str(summary)])

    assert code == 1
    assert "counterexamples written: 1" in capsys.readouterr().out
    data = json.loads(summary.read_text())
    assert data["theorem"] == "PLANTED_H1_LOWER"
    assert len(data["counterexamples"]) == 1


def test_cli_hunt_true_theorem_exits_zero(tmp_path, capsys):
    code = main(["hunt", "H1", "--budget", "5", "--corpus", str(tmp_path)])

    assert code == 0
    assert "5 instances judged" in capsys.readouterr().out


def test_cli_hunt_unwritten_violation_exits_one(tmp_path, capsys):
    code = main(["hunt", "PLANTED_H1_LOWER", "--theorems", str(LOWER), "--budget", "20", "--corpus", str(tmp_path),
                 "--max-counterexamples", "0"])

    assert code == 1
    assert "were VIOLATED but none was written" in capsys.readouterr().err


def test_cli_hunt_all_errors_exits_two(tmp_path, capsys):
    module = tmp_path / "undefined.py"
    module.write_text(
        "from dmfverify.symbolic import u\n"
        "from dmfverify.theorem import HittingTimeBound, Theorem\n"
        "THEOREMS = (Theorem(id='UNDEFINED', title='t', status='conjecture', source='test', statement='s',\n"
        "    claims=(HittingTimeBound('lower', level=u, relation='>=', bound=1 / (u - u), over='positive', levels='thresholds'),)),)\n"
    )
    code = main(["hunt", "UNDEFINED", "--theorems", str(module), "--budget", "5", "--corpus", str(tmp_path / "corpus")])

    assert code == 2
    assert "ended in ERROR" in capsys.readouterr().err


@pytest.mark.parametrize("option, value", [("--workers", "0"), ("--max-counterexamples", "-3"), ("--check-timeout", "0"),
                                           ("--budget", "0"), ("--time", "-1")])
def test_cli_hunt_rejects_bad_option(option, value, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["hunt", "H1", option, value])

    assert stopped.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_cli_hunt_unknown_theorem(capsys):
    assert main(["hunt", "NOPE", "--budget", "1"]) == 2
    assert "unknown theorem id" in capsys.readouterr().err


# ------------------------------------------------------------ killed process


def _hunt_command(corpus: Path, budget: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "dmfverify", "hunt", "PLANTED_H1_LOWER", "--theorems", str(LOWER),
            "--budget", str(budget), "--max-counterexamples", "1000", "--seed", "0", "--workers", str(workers),
            "--corpus", str(corpus), "--json", str(corpus / "summary.json")]


def _wait_for_counterexample(process: subprocess.Popen, corpus: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not corpus_files(corpus):
        if process.poll() is not None:
            pytest.fail(f"the hunt ended (exit code {process.returncode}) before writing a counterexample: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no counterexample was written within {timeout} s")
        time.sleep(0.2)


@pytest.mark.parametrize("signum, workers", [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)],
                         ids=["sigterm", "sigint", "sigterm-two-workers"])
def test_killed_hunt_keeps_counterexamples(tmp_path, signum, workers):
    process = subprocess.Popen(_hunt_command(tmp_path, 100_000, workers), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_counterexample(process, tmp_path, timeout=300)
        written = {path.name: path.read_text() for path in corpus_files(tmp_path)}
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 1, stderr
    assert "interrupted" in stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"]
    assert summary["judged"] < 100_000

    stored = {path.name: path.read_text() for path in corpus_files(tmp_path) if path.name != "summary.json"}
    assert set(written) <= set(stored)
    for name, text in written.items():
        assert stored[name] == text
    for name in stored:
        record = json.loads(stored[name])
        assert record["verdict"].startswith("VIOLATED")
        assert load_instance(tmp_path / name).id


def test_rerun_after_kill_resumes(tmp_path):
    process = subprocess.Popen(_hunt_command(tmp_path, 100_000, 1), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_counterexample(process, tmp_path, timeout=300)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    before = {path.name for path in corpus_files(tmp_path) if path.name != "summary.json"}

    # The example database in the corpus replays the stored failures first, so a rerun with
    # a budget of a few instances meets a violation at once and writes no duplicate.
    rerun = subprocess.run(_hunt_command(tmp_path, 3, 1), capture_output=True, text=True, timeout=600)

    assert (tmp_path / ".hypothesis").is_dir()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"].get("VIOLATED", 0) >= 1, rerun.stderr
    after = [path for path in corpus_files(tmp_path) if path.name != "summary.json"]
    assert before <= {path.name for path in after}
    keys = [instance_key(load_instance(path)) for path in after]
    assert len(keys) == len(set(keys))
