"""The report page writers: each turns the task results of one section into a Markdown page.

A writer reads the results under the keys that :func:`dmfverify.reporting._plan`
gives the tasks.  It draws the figures, writes the tables and JSON data through
a :class:`~dmfverify.figures.PageWriter`, and returns the section's data as
plain JSON values.  It runs no dynamics itself.  Beyond sorting and counting,
it derives summary numbers from the results, such as the length ratio
``(T1 - T0) / (T1_obs - T0_obs)`` of a guaranteed to an observed low-rank
interval.  The index page lists the pages, the command that regenerates the
folder and the measured run time.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dmfverify.figures import (
    PageWriter,
    latex_escape,
    plain,
    plot_early_stopping,
    plot_effective_rank,
    plot_iteration_complexity,
    plot_noise_intervals,
    plot_phase_diagram,
    plot_rank_phases,
    plot_recovery,
    plot_sigma_margin,
    plot_trajectories,
    plot_verdict_spread,
)
from dmfverify.report import markdown_table as verdict_table
from dmfverify.report_tasks import DIGITS_PROBLEM, ERANK_PROBLEM, NOISE_PROBLEM, PHASE_PROBLEM
from dmfverify.theorem_loader import builtin_theorems

if TYPE_CHECKING:
    from dmfverify.reporting import ReportConfig


# ------------------------------------------------------------------- pages

_CLAIM_KINDS = {"HittingTimeBound": "hitting time", "WindowBound": "window", "StepValueBound": "step value",
                "ObservableBound": "observable"}
_OUTCOMES = ("HOLDS", "VIOLATED", "INCONCLUSIVE", "VACUOUS", "ERROR")


def _failures(results: dict[tuple, Any], section: str) -> list[str]:
    """Return one Markdown line per failed task of a section, naming the task and the error."""
    failed = [(key, value) for key, value in results.items() if key[0] == section and isinstance(value, dict) and "error" in value]
    return [f"- Task {key[1:]} failed: {value['error']}" for key, value in sorted(failed, key=lambda item: str(item[0]))]


def _length_ratio(guaranteed: list[float] | None, observed: list[float] | None) -> float | None:
    if guaranteed is None or observed is None:
        return None
    return (guaranteed[1] - guaranteed[0]) / (observed[1] - observed[0])


def _statement(theorem, counts: Counter) -> list[str]:
    hypotheses = [f"- {hypothesis.name}" + (f" (for every i in {hypothesis.over})" if hypothesis.over else "")
                  for hypothesis in theorem.hypotheses]
    verdicts = ", ".join(f"{counts[outcome]} {outcome}" for outcome in _OUTCOMES if counts[outcome]) or "none"
    return [
        f"### {theorem.id} ({theorem.status}): {theorem.title}",
        f"Source: {theorem.source}.",
        "```text\n" + theorem.statement.strip() + "\n```",
        # GitHub renders display math in $$ blocks, where the aligned environment replaces align*.
        "$$\n" + theorem.to_latex().replace("align*", "aligned") + "\n$$",
        "Hypotheses:\n" + ("\n".join(hypotheses) if hypotheses else "- none beyond those attached to each claim"),
        f"Verdicts on the library: {verdicts}.",
    ]


def _catalog_page(writer: PageWriter, results: dict[tuple, Any]) -> dict[str, Any]:
    theorems = builtin_theorems()
    by_id = {theorem.id: theorem for theorem in theorems}
    runs = [results[key] for key in sorted((key for key in results if key[0] == "catalog"), key=lambda key: key[1])]
    verdicts = [verdict for run in runs if "verdicts" in run for verdict in run["verdicts"]]
    order = {(theorem.id, claim.name): position for position, (theorem, claim) in
             enumerate((theorem, claim) for theorem in theorems for claim in theorem.claims)}
    verdicts.sort(key=lambda verdict: (verdict.instance, order[(verdict.theorem, verdict.claim)]))
    checked = sorted({run["instance"] for run in runs if "verdicts" in run})
    counts = {theorem.id: Counter(str(verdict.verdict) for verdict in verdicts if verdict.theorem == theorem.id) for theorem in theorems}
    totals = Counter(str(verdict.verdict) for verdict in verdicts)

    records = [{"theorem": verdict.theorem, "kind": _CLAIM_KINDS[type(by_id[verdict.theorem].claim(verdict.claim)).__name__],
                "verdict": str(verdict.verdict), "margin": plain(verdict.margin), "tightness": plain(verdict.tightness)}
               for verdict in verdicts]
    rows = [[theorem.id, theorem.status, *(counts[theorem.id][outcome] for outcome in _OUTCOMES)] for theorem in theorems]
    instances = ", ".join(checked)
    negative = sum(1 for record in records if record["margin"] is not None and record["margin"] < 0)
    slack = ("no drawn margin is negative, so each of these claims holds with that slack" if negative == 0
             else f"{negative} margin(s) are negative: those claims fail by that amount")

    sections = [
        f"Every theorem of the built-in catalog ({len(theorems)} theorems, package `dmfverify.catalog`) checked on "
        f"{len(checked)} instance(s) of the built-in problem library: {instances}. In total {len(verdicts)} verdicts: "
        + ", ".join(f"{totals[outcome]} {outcome}" for outcome in _OUTCOMES) + ". A verdict judges one claim of one theorem "
        "on one instance. HOLDS and VIOLATED rest on certified enclosures of the dynamics, and HOLDS speaks of that instance only.",
        *_failures(results, "catalog"),
        "## Verdict counts",
        writer.table("catalog_counts", ["theorem", "status", *_OUTCOMES], rows, "Verdict counts per theorem over the built-in library"),
        "## Margins and tightness",
        writer.figure("catalog_margins.png", plot_verdict_spread, records, [theorem.id for theorem in theorems], caption=(
            "Margin (top, symmetric log scale, linear within 1e-6 of zero) and tightness (bottom) of every verdict that has "
            f"them, one column per theorem; colour is the verdict and the marker the claim type. What to see: {slack} (in "
            "steps for hitting-time and window claims, in the observable's units otherwise), and a tightness near 1 means "
            "the bound is nearly attained. Vacuous verdicts have neither number and are not drawn.")),
        "## Statements",
    ]
    for theorem in theorems:
        sections += _statement(theorem, counts[theorem.id])
    notable = [f"- {verdict}" for verdict in verdicts if str(verdict.verdict) not in ("HOLDS", "VACUOUS")]
    sections += ["## Verdicts other than HOLDS and VACUOUS", "\n".join(notable) or "None.", "## All verdicts", verdict_table(verdicts)]

    if writer.latex:
        blocks = [rf"\paragraph{{{theorem.id}: {latex_escape(theorem.title)}}}" + "\n" + theorem.to_latex() for theorem in theorems]
        writer.raw("tables/catalog_statements.tex", "\n\n".join(blocks) + "\n")
    data = {"instances": checked, "counts": counts, "verdicts": verdicts}
    writer.data("catalog.json", data)
    writer.page("catalog.md", "Catalog verification report", sections)
    return plain(data)


def _trajectory_page(writer: PageWriter, results: dict[tuple, Any], config: ReportConfig) -> dict[str, Any]:
    sections = [
        "Product eigenvalues `p_i(k) = x_i(k)^N` of gradient descent started at `W_j(0) = alpha I`, from the scalar engine's "
        "certified enclosures (drawn as bands, thinner than the lines here), for a noiseless and a perturbed instance of "
        "the library with the same spectrum. The guaranteed interval is `[T0, T1)` of theorem L1 (noiseless) or Q1 "
        "(perturbed); the observed one starts at the first step where every top-r eigenvalue is learned and ends at the "
        "first step where another one reaches delta.",
        *_failures(results, "trajectory"),
    ]
    rows, data = [], {}
    for case in config.trajectory_cases:
        result = results[("trajectory", case)]
        if "error" in result:
            continue
        guaranteed, observed = result["guaranteed"], result["observed"]
        ratio = _length_ratio(guaranteed, observed)
        parameters = result["parameters"]
        curves = [{"label": f"p_{i + 1}(k), mu_{i + 1} = {value:.4g}", "low": low, "high": high}
                  for i, (value, low, high) in enumerate(zip(result["eigenvalues"], result["low"], result["high"]))]
        panel = {"title": f"{case}: N = {parameters['depth']}, alpha = {parameters['alpha']:g}, eta = {parameters['eta']:g}, "
                          f"r = {parameters['rank']}", "steps": result["steps"], "curves": curves, "levels": result["levels"],
                 "guaranteed": guaranteed, "observed": observed, "guarantee_name": result["theorem"]}
        if guaranteed is None:
            what = f"No interval is guaranteed: a hypothesis of {result['theorem']} fails, the spectral condition T0 < T1 included."
        else:
            what = (f"The guaranteed [{guaranteed[0]:.1f}, {guaranteed[1]:.1f}) of {result['theorem']} (green) lies inside the "
                    f"observed {_interval_text(observed)} (hatched) and covers {ratio:.1%} of its length.")
        caption = (f"p_i(k) on log-log axes; dashed lines are the learn levels of the top r eigenvalues, the dotted line is "
                   f"delta = {parameters['delta']:g}. What to see: the top r curves cross their learn levels just before T0 "
                   f"and the first small one crosses delta just after T1. {what}")
        sections += [f"## {case}", writer.figure(f"trajectories_{case}.png", plot_trajectories, panel, caption=caption)]
        rows.append([case, result["theorem"], *(guaranteed or [None, None]), *(observed or [None, None]), ratio])
        data[case] = {key: result[key] for key in ("instance", "theorem", "parameters", "guaranteed", "observed", "eigenvalues",
                                                    "steps", "low", "high", "arithmetic")}

    sections += ["## Intervals", writer.table("trajectories", ["instance", "theorem", "guaranteed T0", "guaranteed T1",
                                                                "observed T0", "observed T1", "length ratio"], rows,
                                              "Guaranteed and observed low-rank intervals")]
    writer.data("trajectories.json", data)
    writer.page("trajectories.md", "Trajectories and low-rank intervals", sections)
    return plain(data)


def _interval_text(interval: list[float] | None) -> str:
    return "none" if interval is None else f"[{interval[0]:.0f}, {interval[1]:.0f})"


def _phase_page(writer: PageWriter, results: dict[tuple, Any], grid: dict[int, tuple[list[Fraction], list[Fraction]]]) -> dict[str, Any]:
    problem = PHASE_PROBLEM
    sections = [
        f"Noiseless spectrum ({', '.join(problem['spectrum'])}), rank r = {problem['rank']}, eps = {problem['eps']}, "
        f"delta = {problem['delta']}, aligned start alpha I. For each depth, a grid over the initial scale alpha "
        "(geometric) and the step size eta as a fraction of eta_max, the step size with S(lambda_1) = eta N lambda_1^(2-2/N) = 1. "
        "At every point the checker evaluates theorem L1 (hypotheses, spectral condition T0 < T1) and a certified run "
        "gives the observed interval. The length ratio (T1 - T0) / (T1_obs - T0_obs) says how much of the observed "
        "phase the theorem guarantees.",
        *_failures(results, "phase"),
    ]
    rows, data = [], {}
    for depth, (alphas, ratios) in grid.items():
        shape = (len(ratios), len(alphas))
        flags = {name: np.zeros(shape, dtype=bool) for name in ("guaranteed", "observed", "contradicted", "failed")}
        length_ratio = np.full(shape, np.nan)
        points = []
        for column in range(len(alphas)):
            row = results[("phase", depth, column)]
            if isinstance(row, dict):
                flags["failed"][:, column] = True
                continue
            for line, point in enumerate(row):
                points.append(point)
                if "error" in point:
                    flags["failed"][line, column] = True
                    continue
                guaranteed, observed = point["guaranteed"], point["observed"]
                flags["guaranteed"][line, column] = guaranteed is not None
                flags["observed"][line, column] = observed is not None
                if guaranteed is not None and math.ceil(guaranteed[0]) < math.ceil(guaranteed[1]):
                    inside = observed is not None and observed[0] <= math.ceil(guaranteed[0]) and math.ceil(guaranteed[1]) <= observed[1]
                    flags["contradicted"][line, column] = not inside
                ratio = _length_ratio(guaranteed, observed)
                length_ratio[line, column] = np.nan if ratio is None else ratio

        both = length_ratio[np.isfinite(length_ratio)]
        alpha_limit = float(Fraction(problem["delta"])) ** (1 / depth)
        panel = {"alphas": [float(alpha) for alpha in alphas], "eta_ratios": [float(ratio) for ratio in ratios],
                 **{name: matrix.tolist() for name, matrix in flags.items()}, "length_ratio": length_ratio.tolist(),
                 "alpha_limit": alpha_limit, "title": f"Depth N = {depth}: low-rank phase over (alpha, eta / eta_max)"}
        counts = {name: int(matrix.sum()) for name, matrix in flags.items()}
        observed_only = int((flags["observed"] & ~flags["guaranteed"]).sum())
        median = float(np.median(both)) if both.size else None
        caption = (f"Depth {depth}, {len(alphas)} x {len(ratios)} points. What to see: L1 guarantees a phase at "
                   f"{counts['guaranteed']} of the {counts['observed']} points where one is observed. The spectral "
                   f"condition misses the other {observed_only} (grey), and {counts['contradicted']} points contradict L1. Where both exist the guaranteed interval covers a median {_format(median)} of the "
                   f"observed length. Right of the dashed line alpha^N >= delta, so the leakage level lies below the "
                   f"start and no phase exists.")
        sections += [f"## Depth {depth}", writer.figure(f"phase_depth{depth}.png", plot_phase_diagram, panel, caption=caption)]
        rows.append([depth, len(alphas) * len(ratios), counts["guaranteed"], counts["observed"], observed_only,
                     counts["contradicted"], counts["failed"], median, float(both.min()) if both.size else None])
        data[str(depth)] = {"panel": panel, "points": points}

    sections += ["## Summary", writer.table("phase_diagrams", ["depth", "points", "guaranteed", "observed", "observed only",
                                                               "contradicting L1", "failed", "median length ratio",
                                                               "smallest length ratio"], rows,
                                            "Phase diagrams: counts of grid points and length ratios")]
    writer.data("phase_diagrams.json", data)
    writer.page("phase_diagrams.md", "Phase diagrams of the noiseless low-rank phase", sections)
    return plain(data)


def _guaranteed_ranks(sizes: list[int], sigmas: dict[int, float], margins: dict[int, float | None]) -> str:
    """Return a sentence naming, per rank, the drawn subsample sizes whose sigma is below that rank's sigma_max."""
    parts = []
    for rank, margin in sorted(margins.items()):
        below = [str(size) for size in sizes if 0 < sigmas[size] and margin is not None and sigmas[size] < margin]
        parts.append(f"rank {rank} at {', '.join(below)} images" if below else f"rank {rank} at no drawn size")
    return "; ".join(parts) if parts else "no rank was summarised"


def _early_stopping_gain(curves: dict[int, dict[str, Any]]) -> str:
    """Return a sentence giving, per norm, how much closer to M than the limit ``||Mhat - M||`` the best step is, relatively."""
    parts = []
    for norm, name in (("frobenius", "Frobenius"), ("spectral", "spectral")):
        gains = [((curve[f"noise_{norm}"] - min(curve[f"error_{norm}"])) / curve[f"noise_{norm}"], size)
                 for size, curve in curves.items() if curve[f"noise_{norm}"] > 0]
        if not gains:
            continue
        gain, size = max(gains)
        if gain >= 0.0005:
            parts.append(f"In the {name} norm the best step is at most {gain:.1%} closer to M than the limit ({size} images).")
        else:
            parts.append(f"In the {name} norm no step is closer to M than the limit by 0.05% or more.")
    return " ".join(parts)


def _verdict_counts(points: list[dict[str, Any]]) -> str:
    counts = Counter(entry["verdict"] for point in points for entry in point["recovery"].values())
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())) or "none"


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _noise_page(writer: PageWriter, results: dict[tuple, Any], sigmas: list[Fraction]) -> dict[str, Any]:
    problem = NOISE_PROBLEM
    points = [results[("noise", index)] for index in range(len(sigmas))]
    points = [point for point in points if "error" not in point]
    margin = results[("sigma_max",)]
    margin = None if isinstance(margin, dict) else margin
    rank = problem["rank"]

    def column(key: str, index: int) -> list[Any]:
        return [None if point[key] is None else point[key][index] for point in points]

    sweep = {"sigmas": [point["sigma"] for point in points], "sigma_max": margin,
             "guaranteed_T0": column("guaranteed", 0), "guaranteed_T1": column("guaranteed", 1),
             "observed_T0": column("observed", 0), "observed_T1": column("observed", 1),
             "bound": [[point["K_bound"][i] for point in points] for i in range(rank)],
             "observed": [[point["K_observed"][i][1] for point in points] for i in range(rank)]}
    recovery = {"sigmas": sweep["sigmas"]}
    for name, claim in (("eigenvalue", "limit eigenvalues"), ("frobenius", "limit Frobenius")):
        recovery[f"{name}_error"] = [point["recovery"].get(claim, {}).get("observed") for point in points]
        recovery[f"{name}_bound"] = [point["recovery"].get(claim, {}).get("bound") for point in points]
    seen = [point["sigma"] for point in points if point["observed"] is not None]
    pairs = [(bound, count) for point in points for bound, (_, count) in zip(point["K_bound"], point["K_observed"])
             if bound is not None and count is not None]
    above = sum(1 for bound, count in pairs if bound >= count)

    sections = [
        f"Spectrum ({', '.join(problem['spectrum'])}) with a symmetric noise matrix E of fixed direction (seed "
        f"{problem['seed']}) scaled to spectral norm sigma, depth N = {problem['depth']}, alpha = {problem['alpha']}, "
        f"eta = {problem['eta']}, rank r = {rank}, eps = {problem['eps']}, delta = {problem['delta']}. sigma_max = "
        f"{_format(margin)} is the largest noise level at which the spectral condition of Q1 still holds (bisection on "
        f"its formulas).",
        *_failures(results, "noise"),
        "## Low-rank interval against sigma",
        writer.figure("noise_intervals.png", plot_noise_intervals, {**sweep, "title": "Guaranteed (Q1) and observed low-rank interval"},
                      caption=(f"Guaranteed [T0(sigma), T1(sigma)) of Q1 (green) and the observed interval (blue markers) against "
                               f"sigma; the red line is sigma_max = {_format(margin)}. What to see: T0 grows and T1 shrinks "
                               f"with sigma until they meet at sigma_max, while an observed phase persists up to sigma = "
                               f"{_format(max(seen) if seen else None)}: the condition is sufficient, not necessary.")),
        "## Iteration complexity",
        writer.figure("noise_iterations.png", plot_iteration_complexity, {**sweep, "title": "Bound K_i(sigma) of P3 and observed steps"},
                      caption=("K_i(sigma) = Hupper(lambda_i - sigma - e; lambda_i - sigma) of P3 with e = (lambda_i - sigma)/100 "
                               "(lines) and the observed number of steps after which |p_i(k) - lambda_i| <= sigma + e holds "
                               "(markers; p_i rises monotonically below mu_i <= lambda_i + sigma, so this is the first step with "
                               f"p_i(k) >= lambda_i - sigma - e). What to see: the bound is at or above the observed count "
                               f"in {above} of {len(pairs)} cases, and the bound grows with sigma: the price of noise in "
                               f"iteration complexity.")),
        "## Eigenvalue recovery",
        writer.figure("noise_recovery.png", plot_recovery, {**recovery, "title": "Recovery error of the limit (P2)"},
                      caption=("Error of the limit (Mhat)_+ against the bounds of P2, as computed by the checker: "
                               "max_i |lambda_i((Mhat)_+) - lambda_i| against sigma and ||(Mhat)_+ - M||_F against ||E||_F. "
                               f"What to see: the verdicts are {_verdict_counts(points)}; at sigma = 0 P2 is vacuous and nothing "
                               "is drawn.")),
    ]
    header = ["sigma", "T0(sigma)", "T1(sigma)", "T0_obs", "T1_obs"]
    header += [name for i in range(rank) for name in (f"K_{i + 1}", f"steps_{i + 1}")] + ["eigenvalue error", "Frobenius error"]
    rows = [[point["sigma"], *(point["guaranteed"] or [None, None]), *(point["observed"] or [None, None]),
             *[value for i in range(rank) for value in (point["K_bound"][i], point["K_observed"][i][1])],
             recovery["eigenvalue_error"][index], recovery["frobenius_error"][index]] for index, point in enumerate(points)]
    sections += ["## Numbers", writer.table("noise_sweep", header, rows, "Noise sweep: Q1 interval, P3 iteration bound, P2 recovery")]

    data = {"sigma_max": margin, "points": points}
    writer.data("noise_sweeps.json", data)
    writer.page("noise_sweeps.md", "Noise sweeps", sections)
    return plain(data)


def _erank_page(writer: PageWriter, results: dict[tuple, Any], config: ReportConfig) -> dict[str, Any]:
    problem = ERANK_PROBLEM
    panels, rows, data = [], [], {}
    for depth in config.erank_depths:
        result = results[("erank", depth)]
        if "error" in result:
            continue
        panels.append({**result, "title": f"N = {depth}, alpha = {result['alpha']:g}, eta = {result['eta']:.3g}"})
        window = result["window"] or [None, None]
        rows.append([depth, result["alpha"], result["eta"], *window, result["deviation"], result["bound"], result["verdict"]])
        data[str(depth)] = result

    sections = [
        f"Entropy effective rank erank(W(k)) = exp(-sum q_i ln q_i), q = p(k) / sum p(k), of the product along gradient "
        f"descent for the noiseless spectrum ({', '.join(problem['spectrum'])}), one panel per depth with eta = eta_max / 2. "
        f"Theorem E (rank r = {problem['rank']}, delta = {problem['delta']}, theta = 9/10) bounds |erank(W(k)) - erank(M_r)| "
        "on the window [k_start, k_end) where the top r eigenvalues have reached 90% and the others are below delta.",
        *_failures(results, "erank"),
    ]
    if panels:
        sections.append(writer.figure("effective_rank.png", plot_effective_rank, panels, caption=(
            "erank(W(k)) over k (log scale). Green: E's window; orange band: erank(M_r) plus or minus E's bound. What to see: "
            "from erank = n at the start (all eigenvalues equal alpha^N) the effective rank drops to 1 and then climbs a "
            "staircase, one step per learned eigenvalue, and the steps are sharper for larger depth. Theorem E's verdicts "
            f"by depth: {', '.join(f'N = {row[0]}: {row[-1]}' for row in rows)}.")))
    sections.append(writer.table("effective_rank", ["depth", "alpha", "eta", "k_start", "k_end", "max deviation", "bound of E",
                                                    "verdict"], rows, "Effective-rank window of theorem E"))
    writer.data("effective_rank.json", data)
    writer.page("effective_rank.md", "Effective rank and the incremental staircase", sections)
    return plain(data)


def _digits_page(writer: PageWriter, results: dict[tuple, Any], config: ReportConfig) -> dict[str, Any]:
    problem = DIGITS_PROBLEM
    curves, summaries, rows = {}, [], {}
    for key, result in sorted(results.items(), key=lambda item: str(item[0])):
        if key[0] != "digits" or "error" in result:
            continue
        rows[result["size"]] = result["rows"]
        if "curve" in result:
            curves[result["size"]] = result["curve"]
        summaries += [{"size": result["size"], **row} for row in result["summaries"]]
    summaries.sort(key=lambda row: (row["size"], row["rank"]))

    sigmas = {size: curve["sigma"] for size, curve in curves.items()}
    sigmas.update({row["size"]: row["sigma"] for row in summaries})
    margins: dict[int, float | None] = {}
    for row in summaries:
        margins.setdefault(row["rank"], row["sigma_max"])
    sizes = sorted(sigmas)

    sections = [
        f"Ground truth M: the sample covariance of all {problem['images']} UCI digits images (8 x 8 pixels), divided by "
        "its largest eigenvalue. Observed target Mhat: the covariance of a random subsample of images (fixed seed "
        f"{config.seed}, without replacement), divided by the same number, so E = Mhat - M is real sampling noise. "
        f"Depth N = {problem['depth']}, alpha = {problem['alpha']}, eta = {problem['eta']}, eps = {problem['eps']}, "
        f"delta = {problem['delta']}. Per rank r the observed phase comes from a certified run, the guaranteed one from Q1, "
        "and sigma_max is the largest sigma at which Q1's spectral condition holds (it depends on M only).",
        *_failures(results, "digits"),
        "## Noise level against the robustness margin",
        writer.figure("digits_sigma.png", plot_sigma_margin, {"sizes": sizes, "sigmas": [sigmas[size] for size in sizes],
                                                              "sigma_max": margins},
                      caption=("sigma = ||Mhat - M||_2 for each subsample size against sigma_max of each rank (the full "
                               f"data set, {problem['images']} images, has sigma = 0 and is not drawn). What to see: sigma "
                               "decreases with the size, and Q1 guarantees a phase of rank r only where sigma is below "
                               "that rank's line: " + _guaranteed_ranks(sizes, sigmas, margins) + ".")),
    ]
    if summaries:
        panels = [{"title": f"{size} images, sigma = {sigmas[size]:.3g}", "rows": [row for row in summaries if row["size"] == size]}
                  for size in sorted({row["size"] for row in summaries})]
        observed = sum(1 for row in summaries if row["observed"] is not None)
        guaranteed = sum(1 for row in summaries if row["guaranteed"] is not None)
        sections += ["## Phases per rank", writer.figure("digits_phases.png", plot_rank_phases, panels, caption=(
            f"Observed (blue) and guaranteed (green) low-rank phases per rank and subsample size. What to see: a phase is "
            f"observed for {observed} and guaranteed for {guaranteed} of the {len(summaries)} (size, rank) pairs; a "
            f"guarantee needs sigma below sigma_max of that rank.")),
            writer.table("digits_ranks", ["images", "rank", "sigma", "sigma_max", "observed T0", "observed T1",
                                          "guaranteed T0", "guaranteed T1"],
                         [[row["size"], row["rank"], row["sigma"], row["sigma_max"], *(row["observed"] or [None, None]),
                           *(row["guaranteed"] or [None, None])] for row in summaries], "Digits covariance: phases per rank")]

    if curves:
        labelled = [{"label": f"{size} images, sigma = {curve['sigma']:.3f}", "steps": curve["steps"],
                     "frobenius": curve["error_frobenius"], "spectral": curve["error_spectral"],
                     "noise_frobenius": curve["noise_frobenius"], "noise_spectral": curve["noise_spectral"]}
                    for size, curve in sorted(curves.items())]
        sections += ["## Early stopping", writer.figure("digits_early_stopping.png", plot_early_stopping, labelled, caption=(
            "||W(k) - M|| against k in the Frobenius (left) and spectral (right) norm, with W(k) = V diag(p(k)) V^T, V the "
            "eigenvectors of Mhat and p(k) from the scalar engine (float64); dashed: ||Mhat - M|| in the same colour. What "
            "to see: the large eigenvalues are learned first and the error falls towards ||Mhat - M||, its limit, because "
            "a sample covariance is PSD and gradient descent converges to Mhat itself. " + _early_stopping_gain(curves))),
            writer.table("digits_early_stopping", ["images", "sigma", "||E||_F", "min_k ||W(k) - M||_F", "at step",
                                                   "||E||_2", "min_k ||W(k) - M||_2", "at step", "||W(K) - M||_2, last step"],
                         [[size, curve["sigma"], curve["noise_frobenius"], min(curve["error_frobenius"]),
                           curve["steps"][int(np.argmin(curve["error_frobenius"]))], curve["noise_spectral"],
                           min(curve["error_spectral"]), curve["steps"][int(np.argmin(curve["error_spectral"]))],
                           curve["error_spectral"][-1]] for size, curve in sorted(curves.items())],
                         "Digits covariance: early-stopping error")]

    data = {"sigmas": sigmas, "sigma_max": margins, "ranks": summaries, "curves": curves, "rows": rows, "problem": problem,
            "seed": config.seed}
    writer.data("real_data.json", data)
    writer.page("real_data.md", "Real data: digits covariance with subsample noise", sections)
    return plain(data)


_PAGES = (
    ("catalog.md", "every theorem with its statement and its verdict counts, margins and tightness on the built-in library"),
    ("trajectories.md", "p_i(k) with the guaranteed and the observed low-rank interval, noiseless and perturbed"),
    ("phase_diagrams.md", "where L1 guarantees a low-rank phase and where one is observed, over (alpha, eta / eta_max), depths 2-4"),
    ("noise_sweeps.md", "Q1's interval and sigma_max, P3's iteration bound and P2's recovery error against sigma"),
    ("effective_rank.md", "the incremental staircase of erank(W(k)) for several depths with theorem E's window"),
    ("real_data.md", "the digits covariance with subsample noise: sigma against sigma_max, phases per rank, early stopping"),
)


_SECTION_NAMES = {"digits": "real data", "catalog": "catalog", "phase": "phase diagrams", "noise": "noise sweeps",
                  "sigma_max": "sigma_max", "erank": "effective rank", "trajectory": "trajectories"}


def _machine() -> str:
    """Describe this computer: CPU model, logical CPUs, memory, operating system and Python."""
    model = platform.processor() or "unknown CPU"
    memory = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
        kilobytes = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = f", {kilobytes / 2**20:.1f} GiB memory"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{model}, {os.cpu_count()} logical CPUs{memory}, {platform.platform()}, Python {platform.python_version()}"


def _load() -> str:
    """Return a sentence with the system load averages when the run ended, which other processes may have raised."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "the system load average is not available."
    return (f"the system load average when the run ended was {one:.1f} (1 min), {five:.1f} (5 min) and {fifteen:.1f} "
            "(15 min), counting other programs on the machine.")


def _index_page(writer: PageWriter, *, seconds: float, section_seconds: dict[str, float], workers: int, quick: bool) -> None:
    pages = "\n".join(f"- [{name}]({name}): {description}" for name, description in _PAGES)
    others = [name for name in ("benchmarks.md", "hunts") if (writer.out / name).exists()]
    sections = [
        "Regenerable outputs of dmfverify: the catalog verification report and figures of the dynamics of gradient "
        "descent in deep matrix factorization. Every number on these pages comes from the checker, the scalar engine "
        "and the phase summaries of the package; `data/` holds every plotted number as JSON"
        + (", `tables/` the LaTeX tables" if writer.latex else "") + ".",
        "## Pages", pages,
        *([f"Other files in this folder ({', '.join(others)}) are written by other commands."] if others else []),
        "## Regenerating",
        f"`{writer.command}` rewrote this folder" + (" with the quick smoke-test sizes" if quick else "") + ". Options: "
        "`--quick` (one tiny instance and the smallest grids), `--latex` (also LaTeX tables), `--data-dir DIR` (a folder "
        "holding digits.csv.gz instead of scikit-learn's copy), `--workers N` (processes for the sweeps, default 2), "
        "`--timeout SECONDS` (stop tasks still running that long after the start, default 1800).",
        "## Run time",
        f"Measured by `dmfverify report` itself: {seconds:.0f} s wall-clock time with {workers} worker process(es) on "
        f"{_machine()}, on {datetime.date.today().isoformat()}; {_load()} Compute time of the tasks by section, summed over the "
        "workers: " + ", ".join(f"{_SECTION_NAMES.get(name, name)} {value:.0f} s" for name, value in
                                sorted(section_seconds.items(), key=lambda item: -item[1])) + ". The real-data tasks "
        "are the slowest: each subsample needs eigendecompositions of 64 x 64 matrices in mpmath.",
    ]
    writer.page("README.md", "dmfverify reports", sections)
