"""End-to-end tests of the command line: outputs, exit codes, and one-sentence errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reference import read_case, reference_case_paths

CASES = {path.stem: path for path in reference_case_paths()}


def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dmfverify.cli", *arguments], capture_output=True, text=True, timeout=600)


def test_list_shows_catalog():
    result = run("list")
    assert result.returncode == 0
    for theorem_id in ("H1", "H2", "H3", "L1", "L2", "P1", "P2", "P3", "Q1", "Q2", "D", "E", "ER", "M", "C"):
        assert f"\n{theorem_id} " in "\n" + result.stdout


def test_show_prints_text_and_latex():
    result = run("show", "L1")
    assert result.returncode == 0
    assert "spectral condition" in result.stdout
    assert "\\begin{align*}" in result.stdout


def test_simulate_json_keys_match_case():
    case = read_case(CASES["phase-depth3-rank2"])
    result = run("simulate", str(CASES["phase-depth3-rank2"]), "--format", "json")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    for key in ("learn_times", "leak_times", "observed_T0", "observed_T1"):
        assert output[key] == case["expected"][key]
    assert output["certified_ranges"]["learn_times"] == [[209, 209], [420, 420]]


@pytest.mark.parametrize("arithmetic", ["float64", "mpmath", "certified"])
def test_simulate_scalar_case_every_arithmetic(arithmetic):
    case = read_case(CASES["scalar-depth5"])
    result = run("simulate", str(CASES["scalar-depth5"]), "--arithmetic", arithmetic, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hitting_times"] == case["expected"]["hitting_times"]


def test_simulate_matrix_engine():
    case = read_case(CASES["phase-depth2-rank1"])
    result = run("simulate", str(CASES["phase-depth2-rank1"]), "--engine", "matrix", "--arithmetic", "float64", "--format", "json")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["learn_times"] == case["expected"]["learn_times"]
    assert output["leak_times"] == case["expected"]["leak_times"]


def test_check_json_fields_and_exit_code():
    result = run("check", str(CASES["scalar-depth3"]), "--theorem", "H1", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {row["claim"] for row in rows} == {"lower", "upper"}
    for row in rows:
        assert set(row) >= {"theorem", "claim", "instance", "verdict", "observed", "bound", "margin", "tightness", "arithmetic", "precision", "reason"}
        assert row["verdict"] == "HOLDS"


def test_check_violation_exits_one(tmp_path):
    module = tmp_path / "false.py"
    module.write_text(
        "from dmfverify.symbolic import N, Phi, S, alpha, eta, i, mu, u, vstar\n"
        "from dmfverify.theorem import HittingTimeBound, Hypothesis, Theorem\n"
        "FALSE = Theorem(id='FALSE', title='too strong', status='conjecture', source='test', statement='',\n"
        "    claims=(HittingTimeBound('lower', level=u, relation='>=', bound=2 * Phi(u, mu[i], alpha, N) / eta,\n"
        "        over='positive', levels='thresholds',\n"
        "        hypotheses=(Hypothesis('S', S(mu[i]) <= 1), Hypothesis('range', (alpha**N < u) & (u <= vstar(mu[i]))))),))\n"
    )
    result = run("check", str(CASES["scalar-depth3"]), "--theorems", str(module), "--theorem", "FALSE")
    assert result.returncode == 1
    assert "VIOLATED" in result.stdout


def test_check_markdown():
    result = run("check", str(CASES["scalar-depth2"]), "--theorem", "H2", "--format", "markdown")
    assert result.returncode == 0
    assert result.stdout.startswith("| theorem | claim |")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('{"id": "x", "spectrum": ["1"], "depth": 3, "alpha": "-0.1", "eta": "0.1"}', "alpha = -0.1"),
        ('{"id": "x", "spectrum": ["1"], "depth": 1, "alpha": "0.1", "eta": "0.1"}', "depth = 1"),
        ('{"id": "x", "spectrum": ["1", "0.5"], "depth": 3, "alpha": "0.1", "eta": "0.1", "rank": 5}', "rank = 5"),
        ('{"id": "x", "spectrum": ["1"], "depth": 3, "alpha": "0.1", "eta": "nan"}', "eta = nan"),
        ("{broken", "not valid JSON"),
    ],
)
def test_bad_input_exits_two_without_traceback(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    for command in (("simulate", str(path)), ("check", str(path))):
        result = run(*command)
        assert result.returncode == 2
        assert fragment in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_theorem_exits_two():
    result = run("show", "NOPE")
    assert result.returncode == 2
    assert "unknown theorem id(s) NOPE" in result.stderr


def test_budget_refusal_gives_estimate(tmp_path):
    path = tmp_path / "slow.json"
    path.write_text(json.dumps({"id": "slow", "eigenvalue": "1", "depth": 4, "alpha": "0.0001", "eta": "0.001", "thresholds": ["0.5"]}))
    result = run("simulate", str(path))
    assert result.returncode == 2
    assert "estimated" in result.stderr
    assert "budget" in result.stderr


def test_debug_shows_traceback(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"id": "x", "spectrum": ["1"], "depth": 1, "alpha": "0.1", "eta": "0.1"}')
    result = run("--debug", "simulate", str(path))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_invariance_flags_a_broken_formula(tmp_path):
    module = tmp_path / "broken_scaling.py"
    module.write_text(
        "from dmfverify.symbolic import N, Phi, S, alpha, eta, i, mu, u, vstar\n"
        "from dmfverify.theorem import HittingTimeBound, Hypothesis, Theorem\n"
        "NOSCALE = Theorem(id='NOSCALE', title='adds alpha to an iteration count', status='conjecture', source='test', statement='',\n"
        "    claims=(HittingTimeBound('lower', level=u, relation='>=', bound=Phi(u, mu[i], alpha, N) / eta + alpha,\n"
        "        over='positive', levels='thresholds', hypotheses=(Hypothesis('S', S(mu[i]) <= 1),)),))\n"
    )
    result = run("invariance", "--theorems", str(module), "--theorem", "NOSCALE", "--theorem", "H1")
    assert result.returncode == 1
    assert "NOSCALE scaling          BROKEN" in result.stdout
    assert "H1   scaling          invariant" in result.stdout


@pytest.mark.parametrize("arguments, fragment", [
    (("check", "--dps", "100000"), "it must be between 15 and 1000"),
    (("invariance", "--samples", "0"), "it must be at least 1"),
    (("report", "--workers", "0"), "it must be at least 1"),
    (("simulate", "x.json", "--bits", "20"), "it must be at least 53"),
])
def test_out_of_range_option_exits_two(arguments, fragment):
    result = run(*arguments)

    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_simulate_random_start_uses_singular_values(tmp_path):
    """A Gaussian start leaves the product non-symmetric; the matrix engine then reads singular values."""
    path = tmp_path / "gaussian.json"
    path.write_text(json.dumps({"id": "gaussian", "kind": "noiseless_low_rank_phase", "depth": 3, "spectrum": ["1", "0.5", "0.1"],
                                "alpha": "0.1", "eta": "0.1", "rank": 2, "eps": "0.05", "delta": "0.01",
                                "initialisation": {"kind": "gaussian", "scale": "0.1", "seed": 0}}))
    result = run("simulate", str(path), "--engine", "matrix", "--arithmetic", "float64", "--format", "json")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["observed_spectrum"].startswith("singular values")
    assert None not in output["learn_times"]
    assert output["observed_T0"] == max(output["learn_times"])


def test_matrix_engine_uses_scalar_keys_under_noise():
    case = read_case(CASES["perturbed-depth3-rank2"])
    result = run("simulate", str(CASES["perturbed-depth3-rank2"]), "--engine", "matrix", "--arithmetic", "float64", "--format", "json")

    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    key = "learn_times_to_(1-eps)(lambda_i-sigma)"
    assert output[key] == case["expected"][key]

