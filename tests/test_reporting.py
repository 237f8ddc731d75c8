"""Tests of `dmfverify report`: a quick report is regenerated into a temporary folder and its numbers are
recomputed here from the checker and the engines, independently of the report builders."""

from __future__ import annotations

import json
import math
import re
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from dmfverify import cli, reporting
from dmfverify.catalog.convergence import E
from dmfverify.catalog.noiseless_phase import L1
from dmfverify.catalog.perturbed import P2
from dmfverify.catalog.persistence import Q1
from dmfverify.checker import check, derived_values
from dmfverify.datasets import digits_instance
from dmfverify.errors import InvalidArgument
from dmfverify.figures import latex_table, markdown_table, plain
from dmfverify.instance import Instance, load_instance
from dmfverify.observable_registry import erank_of
from dmfverify.phase import sigma_max
from dmfverify.hitting_time import hitting_time_upper
from dmfverify.reporting import DIGITS_PROBLEM, ERANK_PROBLEM, NOISE_PROBLEM, PHASE_PROBLEM, ReportConfig, build_reports
from dmfverify.scalar_engine import simulate_scalar
from dmfverify.simulation import estimate_horizon, observe
from dmfverify.spectrum import ground_truth_spectrum, noise_norm, target_spectrum
from dmfverify.theorem_loader import builtin_theorems

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PAGES = ("README.md", "catalog.md", "trajectories.md", "phase_diagrams.md", "noise_sweeps.md", "effective_rank.md", "real_data.md")
QUICK = ReportConfig.quick()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The quick report with LaTeX tables, built once for the module (about a minute on 2 cores)."""
    if not (SHARED_DATA / "digits.csv.gz").exists():
        pytest.skip("digits.csv.gz is not available next to the repository")
    out = tmp_path_factory.mktemp("reports")
    return build_reports(out, quick=True, latex=True, data_dir=SHARED_DATA, workers=2)


def case_instance(name: str) -> Instance:
    return load_instance(next(path for path in cli.builtin_case_paths() if path.stem == name))


def interval(values) -> list[float] | None:
    if values is None or not values["hypotheses_hold"]:
        return None
    return [float(values["T0"]), float(values["T1"])]


# ------------------------------------------------------------------- files


def test_report_writes_every_page(report):
    for name in PAGES:
        page = report.out / name
        assert page.exists(), name
        assert "Regenerate this folder with `dmfverify report --out" in page.read_text(), name


def test_report_figures_are_png_files(report):
    for name in PAGES:
        for target in re.findall(r"!\[[^]]*\]\(([^)]+)\)", (report.out / name).read_text()):
            path = report.out / target
            assert path.exists(), target
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", target
            assert path.stat().st_size > 10_000, target


def test_report_links_resolve(report):
    for name in PAGES:
        for target in re.findall(r"\]\(([^)]+)\)", (report.out / name).read_text()):
            assert (report.out / target).exists(), f"{name} links to missing {target}"


def test_report_latex_tables(report):
    tables = sorted(path.name for path in (report.out / "tables").glob("*.tex"))
    assert "catalog_counts.tex" in tables
    assert "catalog_statements.tex" in tables
    assert "noise_sweep.tex" in tables
    for path in (report.out / "tables").glob("*.tex"):
        text = path.read_text()
        assert text.count("{") == text.count("}"), path.name


def test_report_data_is_strict_json(report):
    def reject(constant):
        raise AssertionError(f"non-finite number {constant} in JSON")

    for path in (report.out / "data").glob("*.json"):
        json.loads(path.read_text(), parse_constant=reject)
    assert len(list((report.out / "data").glob("*.json"))) == 6


def test_report_files_listed(report):
    for path in report.files:
        assert path.exists(), path
    assert report.out / "README.md" in report.files
    assert report.seconds > 0
    assert re.search(r"Measured by `dmfverify report` itself: \d+ s wall-clock time with 2 worker",
                     (report.out / "README.md").read_text())


# ----------------------------------------------------------------- numbers


def test_catalog_matches_checker(report):
    instance = case_instance(QUICK.catalog_cases[0])
    expected = [verdict for theorem in builtin_theorems() for verdict in check(theorem, instance)]
    recorded = report.data["catalog"]["verdicts"]

    assert len(recorded) == len(expected)
    for got, verdict in zip(recorded, expected):
        assert (got["theorem"], got["claim"], got["verdict"]) == (verdict.theorem, verdict.claim, str(verdict.verdict))
        assert got["margin"] == plain(verdict.margin)
        assert got["bound"] == plain(verdict.bound)

    counts = report.data["catalog"]["counts"]
    for theorem in builtin_theorems():
        for outcome in ("HOLDS", "VIOLATED", "INCONCLUSIVE", "VACUOUS", "ERROR"):
            expected_count = sum(1 for verdict in expected if verdict.theorem == theorem.id and str(verdict.verdict) == outcome)
            assert counts[theorem.id].get(outcome, 0) == expected_count, (theorem.id, outcome)


def test_catalog_page_counts_table(report):
    text = (report.out / "catalog.md").read_text()
    counts = report.data["catalog"]["counts"]
    for theorem_id, row in counts.items():
        line = f"| {theorem_id} | "
        assert line in text, theorem_id
        cells = next(entry for entry in text.splitlines() if entry.startswith(line)).strip("| ").split(" | ")
        assert int(cells[2]) == row.get("HOLDS", 0), theorem_id


def test_trajectories_match_checker(report):
    for case in QUICK.trajectory_cases:
        instance = case_instance(case)
        recorded = report.data["trajectories"][case]
        theorem = L1 if instance.is_noiseless else Q1
        result = observe(instance)

        assert recorded["theorem"] == theorem.id
        assert recorded["guaranteed"] == interval(derived_values(theorem, instance))
        assert recorded["observed"] == [float(result["observed_T0"]), float(result["observed_T1"])]
        assert recorded["guaranteed"][0] >= recorded["observed"][0]
        assert recorded["guaranteed"][1] <= recorded["observed"][1]


def test_trajectory_values_match_engine(report):
    recorded = report.data["trajectories"][QUICK.trajectory_cases[0]]
    instance = case_instance(QUICK.trajectory_cases[0])
    steps = [int(step) for step in recorded["steps"][::37]]
    run = simulate_scalar(instance, max(steps), arithmetic="mpmath", dps=30, snapshot_steps=steps)
    positions = {int(step): index for index, step in enumerate(recorded["steps"])}
    for i in range(instance.n):
        for step in steps:
            value = float(run.value(i, step)[0])
            assert recorded["low"][i][positions[step]] <= value * (1 + 1e-12)
            assert recorded["high"][i][positions[step]] >= value * (1 - 1e-12)


def test_phase_grid_matches_checker(report):
    for depth, panel in report.data["phase_diagrams"].items():
        points = panel["points"]
        assert len(points) == QUICK.phase_alpha_count * QUICK.phase_eta_count
        for point in points[:: max(1, len(points) // 4)]:
            instance = Instance.create(spectrum=PHASE_PROBLEM["spectrum"], depth=int(depth), alpha=point["alpha_exact"],
                                       eta=point["eta_exact"], rank=PHASE_PROBLEM["rank"], eps=PHASE_PROBLEM["eps"],
                                       delta=PHASE_PROBLEM["delta"])
            assert point["guaranteed"] == interval(derived_values(L1, instance)), point
            result = observe(instance)
            if point["observed"] is None:
                assert result.get("observed_T0") is None or result["observed_T0"] >= result["observed_T1"], point
            else:
                assert point["observed"] == [float(result["observed_T0"]), float(result["observed_T1"])], point


def test_phase_grid_never_contradicts_l1(report):
    for panel in report.data["phase_diagrams"].values():
        assert not np.asarray(panel["panel"]["contradicted"]).any()
        assert not np.asarray(panel["panel"]["failed"]).any()


def noise_instance(sigma: str) -> Instance:
    problem = NOISE_PROBLEM
    noise = None if Fraction(sigma) == 0 else {"spectral_norm": sigma, "seed": problem["seed"], "kind": "symmetric"}
    return Instance.create(spectrum=problem["spectrum"], noise=noise, depth=problem["depth"], alpha=problem["alpha"],
                           eta=problem["eta"], rank=problem["rank"], eps=problem["eps"], delta=problem["delta"])


def test_noise_sweep_matches_checker(report):
    data = report.data["noise_sweeps"]
    assert data["sigma_max"] == sigma_max(noise_instance("0"))
    assert len(data["points"]) == QUICK.noise_sigma_count

    for point in data["points"]:
        instance = noise_instance(point["sigma_requested_exact"])
        low, high = noise_norm(instance)
        sigma = (low + high) / 2
        assert point["sigma"] == float(sigma)
        assert point["guaranteed"] == interval(derived_values(Q1, instance))

        truth = ground_truth_spectrum(instance).values
        levels = {i: [(truth[i] - sigma) * Fraction(99, 100)] for i in range(instance.rank)}
        run = simulate_scalar(instance, estimate_horizon(instance, levels), arithmetic="mpmath", dps=30, levels=levels)
        for i in range(instance.rank):
            bound = hitting_time_upper(levels[i][0], truth[i] - sigma, instance.alpha, instance.eta, instance.depth)
            assert point["K_bound"][i] == float(bound)
            earliest, latest = point["K_observed"][i]
            assert earliest <= run.hitting_time(i, levels[i][0])[0] <= latest
            assert latest <= point["K_bound"][i]

        if not instance.is_noiseless:
            verdicts = {verdict.claim: verdict for verdict in check(P2, instance)}
            for claim in ("limit eigenvalues", "limit Frobenius"):
                assert point["recovery"][claim]["verdict"] == str(verdicts[claim].verdict)
                assert point["recovery"][claim]["observed"] == verdicts[claim].observed
                # The Frobenius claim is vacuous when Mhat is PSD (it is then an identity).
                if verdicts[claim].verdict.value != "VACUOUS":
                    assert point["recovery"][claim]["observed"] <= point["recovery"][claim]["bound"]


def test_noise_guarantee_inside_observed(report):
    for point in report.data["noise_sweeps"]["points"]:
        if point["guaranteed"] is not None:
            assert point["observed"] is not None
            assert point["observed"][0] <= math.ceil(point["guaranteed"][0])
            assert math.ceil(point["guaranteed"][1]) <= point["observed"][1]
        if report.data["noise_sweeps"]["sigma_max"] is not None and point["sigma"] > report.data["noise_sweeps"]["sigma_max"]:
            assert point["guaranteed"] is None


def test_effective_rank_matches_checker(report):
    for depth in QUICK.erank_depths:
        recorded = report.data["effective_rank"][str(depth)]
        instance = Instance.create(spectrum=ERANK_PROBLEM["spectrum"], depth=depth, alpha=ERANK_PROBLEM["alpha"][depth],
                                   eta=recorded["eta_exact"], rank=ERANK_PROBLEM["rank"], delta=ERANK_PROBLEM["delta"])
        values = derived_values(E, instance)
        verdict = check(E, instance)[0]
        assert recorded["window"] == [float(values["k_start"]), float(values["k_end"])]
        assert recorded["reference"] == pytest.approx(math.exp(float(values["erank_r"])), rel=1e-15)
        assert recorded["verdict"] == str(verdict.verdict)
        assert recorded["bound"] == float(verdict.bound)

        steps = [int(step) for step in recorded["steps"][::25]]
        run = simulate_scalar(instance, max(steps), arithmetic="float64", snapshot_steps=steps)
        positions = {int(step): index for index, step in enumerate(recorded["steps"])}
        for step in steps:
            values_at_step = np.array([float(run.value(i, step)[0]) for i in range(instance.n)])
            assert recorded["erank"][positions[step]] == pytest.approx(erank_of(values_at_step), rel=1e-9)


def test_real_data_matches_engines(report):
    data = report.data["real_data"]
    size = QUICK.digits_rank_sizes[0]
    rank = QUICK.digits_ranks[0]
    problem = {key: DIGITS_PROBLEM[key] for key in ("depth", "alpha", "eta", "eps", "delta")}
    instance = digits_instance({"id": "check", "row_indices": data["rows"][str(size)], "rank": rank, **problem},
                               data_dir=SHARED_DATA)
    low, high = noise_norm(instance)
    sigma = (low + high) / 2
    assert data["sigmas"][str(size)] == float(sigma)
    assert len(data["rows"][str(size)]) == size

    # The observed phase, from an independent certified run with the learn and leak levels.
    row = data["ranks"][0]
    truth = ground_truth_spectrum(instance).values
    learn = {i: [(1 - instance.eps) * (truth[i] - sigma)] for i in range(rank)}
    leak = {i: [instance.delta] for i in range(rank, instance.n)}
    run = simulate_scalar(instance, 20_000, arithmetic="certified", levels={**learn, **leak})
    start = max(run.hitting_time(i, learn[i][0])[1] for i in range(rank))
    stop = min(run.hitting_time(i, instance.delta)[0] for i in range(rank, instance.n) if run.hitting_time(i, instance.delta)[0] is not None)
    assert row["observed"] == ([start, stop] if start < stop else None)
    assert row["guaranteed"] is None or row["sigma"] < row["sigma_max"]


def test_early_stopping_matches_numpy(report):
    data = report.data["real_data"]
    size = QUICK.digits_sizes[0]
    curve = data["curves"][str(size)]
    problem = {key: DIGITS_PROBLEM[key] for key in ("depth", "alpha", "eta", "eps", "delta")}
    instance = digits_instance({"id": "check", "row_indices": data["rows"][str(size)], **problem}, data_dir=SHARED_DATA)

    # W(k) from numpy's eigendecomposition of Mhat, independent of the mpmath eigenvectors used by the report.
    eigenvalues, vectors = np.linalg.eigh(instance.target_array())
    order = np.argsort(eigenvalues)[::-1]
    vectors = vectors[:, order]
    step = int(curve["steps"][len(curve["steps"]) // 2])
    run = simulate_scalar(instance, step, arithmetic="float64", snapshot_steps=[step])
    p = np.array([float(run.value(i, step)[0]) for i in range(instance.n)])
    product = vectors @ np.diag(p) @ vectors.T
    error = np.linalg.norm(product - instance.ground_truth_array(), "fro")

    assert curve["error_frobenius"][curve["steps"].index(step)] == pytest.approx(error, rel=1e-8)
    assert curve["noise_frobenius"] == pytest.approx(np.linalg.norm(instance.target_array() - instance.ground_truth_array(), "fro"), rel=1e-12)
    assert float(target_spectrum(instance).values[0]) == pytest.approx(eigenvalues[order[0]], rel=1e-12)


# --------------------------------------------------------------------- CLI


def test_cli_report_forwards_options(monkeypatch, tmp_path):
    calls = []

    def fake(out, **options):
        calls.append((out, options))
        return reporting.ReportResult(out=Path(out), files=(), data={}, seconds=0.0)

    monkeypatch.setattr(reporting, "build_reports", fake)
    code = cli.main(["report", "--out", str(tmp_path), "--quick", "--latex", "--data-dir", "somewhere", "--workers", "1",
                     "--timeout", "60"])
    assert code == 0
    assert calls == [(str(tmp_path), {"quick": True, "latex": True, "data_dir": "somewhere", "workers": 1, "timeout": 60.0})]


def test_cli_report_rejects_zero_workers(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["report", "--out", str(tmp_path / "out"), "--workers", "0"])

    assert stopped.value.code == 2
    assert "argument --workers: 0 is invalid" in capsys.readouterr().err


def test_run_tasks_times_out_slow_task():
    # The timeout leaves room for starting worker processes on a loaded machine.
    tasks = [(("quick", 1), math.sqrt, (4.0,)), (("slow", 1), time.sleep, (120.0,))]
    started = time.perf_counter()
    results, seconds = reporting._run_tasks(tasks, workers=2, timeout=20.0)
    assert results[("quick", 1)] == 2.0
    assert results[("slow", 1)]["error"].startswith("timed out")
    assert seconds["slow"] == 0.0
    assert time.perf_counter() - started < 60.0


def test_build_reports_rejects_file_out(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("")
    with pytest.raises(InvalidArgument, match="not a folder"):
        build_reports(target, quick=True)


def test_report_config_rejects_bad_sizes():
    with pytest.raises(InvalidArgument, match="depth 6 has no alpha range"):
        ReportConfig(phase_depths=(6,))
    with pytest.raises(InvalidArgument, match="phase_eta_count = 1 is invalid"):
        ReportConfig(phase_eta_count=1)
    with pytest.raises(InvalidArgument, match="must lie in"):
        ReportConfig(digits_rank_sizes=(5000,))


# ------------------------------------------------------------------ tables


def test_markdown_table_escapes_pipes():
    text = markdown_table(["||E||_F", "value"], [["a|b", float("nan")]])
    assert text.splitlines()[0] == r"| \|\|E\|\|_F | value |"
    assert text.splitlines()[2] == r"| a\|b | - |"


def test_latex_table_escapes_specials():
    text = latex_table(["alpha^N", "x_1"], [[0.5, "50%"]], caption="T0 & T1", label="tab:x")
    assert r"alpha\^{}N & x\_1 \\" in text
    assert r"0.5 & 50\% \\" in text
    assert r"\caption{T0 \& T1}" in text


def test_plain_drops_non_finite():
    assert plain({"a": (Fraction(1, 2), float("inf")), "b": np.float64(2.5)}) == {"a": [0.5, None], "b": 2.5}
