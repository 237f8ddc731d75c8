"""Figures, tables and files of the reports: matplotlib plots, Markdown/LaTeX tables and the page writer.

Every function here draws or formats numbers it is given and computes none:
the report builders of :mod:`dmfverify.reporting` obtain them from the checker,
the engines and the phase summaries.  Figures are built on
:class:`matplotlib.figure.Figure` and written as PNG through the Agg canvas, so
importing this module never selects a global backend.  ``None`` marks a value
that does not exist (an empty phase, a vacuous bound) and is left out of a plot.
"""

from __future__ import annotations

import enum
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = [
    "PageWriter",
    "plain",
    "markdown_table",
    "latex_table",
    "latex_escape",
    "plot_verdict_spread",
    "plot_trajectories",
    "plot_phase_diagram",
    "plot_noise_intervals",
    "plot_iteration_complexity",
    "plot_recovery",
    "plot_effective_rank",
    "plot_rank_phases",
    "plot_sigma_margin",
    "plot_early_stopping",
]

#: Resolution of the written PNG files, in dots per inch.
DPI = 110

VERDICT_COLOURS = {"HOLDS": "tab:green", "VIOLATED": "tab:red", "INCONCLUSIVE": "tab:orange", "ERROR": "black"}
CLAIM_MARKERS = {"hitting time": "o", "window": "s", "step value": "D", "observable": "^"}
GUARANTEED = {"color": "tab:green", "alpha": 0.22}
OBSERVED = {"facecolor": "none", "edgecolor": "tab:blue", "hatch": "//", "linewidth": 0.0}


# ------------------------------------------------------------------ tables


def _format_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:.4g}"
    return str(value)


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render rows as a Markdown table; floats get 4 significant digits, None becomes ``-`` and ``|`` is escaped.

    >>> print(markdown_table(["rank", "||E||_F"], [[1, 12.34567], [2, None]]))
    | rank | \\|\\|E\\|\\|_F |
    |---|---|
    | 1 | 12.35 |
    | 2 | - |
    """
    lines = ["| " + " | ".join(_markdown_cell(str(name)) for name in header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(_markdown_cell(_format_cell(value)) for value in row) + " |")
    return "\n".join(lines)


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$",
                   "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}"}


def latex_escape(text: str) -> str:
    """Escape the characters that LaTeX treats specially in running text."""
    return "".join(_LATEX_SPECIALS.get(character, character) for character in text)


def latex_table(header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str, label: str) -> str:
    """Render rows as a LaTeX ``table`` with booktabs rules; cells are escaped text, not math."""
    columns = "l" + "r" * (len(header) - 1)
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{columns}}}",
        r"\toprule",
        " & ".join(latex_escape(str(name)) for name in header) + r" \\",
        r"\midrule",
    ]
    for row in rows:
        lines.append(" & ".join(latex_escape(_format_cell(value)) for value in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------- files


def plain(value: Any) -> Any:
    """Convert a result to JSON-ready values: Fractions, mpf and numpy numbers to float, NaN and infinity to None.

    >>> plain({"T": (Fraction(1, 4), float("nan")), "k": np.int64(3)})
    {'T': [0.25, None], 'k': 3}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(item) for item in value]
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    number = float(value)
    return number if math.isfinite(number) else None


class PageWriter:
    """Writer of one report folder: Markdown pages, PNG figures, JSON data and LaTeX tables.

    Every page starts with its title and the command that regenerates the
    folder; :attr:`files` lists what was written, in order.
    """

    def __init__(self, out: str | Path, *, command: str, latex: bool):
        self.out = Path(out)
        self.command = command
        self.latex = latex
        self.files: list[Path] = []
        for folder in ("figures", "data") + (("tables",) if latex else ()):
            (self.out / folder).mkdir(parents=True, exist_ok=True)

    def _written(self, path: Path) -> Path:
        self.files.append(path)
        return path

    def _write_text(self, relative: str, text: str) -> Path:
        path = self.out / relative
        path.write_text(text)
        return self._written(path)

    def figure(self, name: str, draw: Any, *arguments: Any, caption: str) -> str:
        """Draw a figure into ``figures/name`` with ``draw(*arguments, path)`` and return its Markdown with the caption."""
        self._written(draw(*arguments, self.out / "figures" / name))
        return f"![{name}](figures/{name})\n\n*{caption}*\n"

    def table(self, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str) -> str:
        """Return a Markdown table; with LaTeX enabled also write ``tables/name.tex`` and link it."""
        text = markdown_table(header, rows)
        if self.latex:
            self._write_text(f"tables/{name}.tex", latex_table(header, rows, caption, f"tab:{name}"))
            text += f"\n\nLaTeX: [tables/{name}.tex](tables/{name}.tex)"
        return text + "\n"

    def data(self, name: str, payload: Any) -> Path:
        """Write ``data/name`` as JSON (see :func:`plain`)."""
        return self._write_text(f"data/{name}", json.dumps(plain(payload), indent=1) + "\n")

    def page(self, name: str, title: str, sections: Sequence[str]) -> Path:
        """Write the Markdown page ``name``: title, regeneration command, then the sections separated by blank lines."""
        header = f"# {title}\n\nRegenerate this folder with `{self.command}`."
        return self._write_text(name, "\n\n".join(section.strip() for section in [header, *sections] if section.strip()) + "\n")

    def raw(self, relative: str, text: str) -> Path:
        """Write a text file under the folder, such as a LaTeX fragment."""
        return self._write_text(relative, text)


# ----------------------------------------------------------------- helpers


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def _finite(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if value is None else float(value) for value in values], dtype=float)


def _plain_log_ticks(axis) -> None:
    """Label a logarithmic x axis at 1, 2 and 5 times powers of ten in plain numbers, so short ranges stay legible."""
    axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.xaxis.set_minor_formatter(NullFormatter())


def _shade(axis, interval: Sequence[float] | None, style: Mapping[str, Any], label: str) -> None:
    if interval is None or interval[0] is None or interval[1] is None or not interval[0] < interval[1]:
        return
    axis.axvspan(max(interval[0], 1.0), interval[1], label=label, **style)


# ----------------------------------------------------------------- catalog


def plot_verdict_spread(records: Sequence[Mapping[str, Any]], theorem_ids: Sequence[str], path: str | Path) -> Path:
    """Plot the margin (symmetric log scale) and tightness of every verdict, one column per theorem.

    Each record contains ``theorem``, ``kind`` (a key of ``CLAIM_MARKERS``),
    ``verdict``, ``margin`` and ``tightness``.  A record without a margin (a
    vacuous claim) is left out of the margin panel, and likewise for tightness.
    """
    figure = _new_figure(9.0, 6.2)
    margin_axis, tightness_axis = figure.subplots(2, 1, sharex=True)
    position = {theorem: index for index, theorem in enumerate(theorem_ids)}
    jitter = np.random.default_rng(0)

    for record in records:
        x = position[record["theorem"]] + jitter.uniform(-0.25, 0.25)
        style = {"color": VERDICT_COLOURS.get(record["verdict"], "grey"), "marker": CLAIM_MARKERS[record["kind"]],
                 "markersize": 5, "alpha": 0.75, "linestyle": "none"}
        if record.get("margin") is not None:
            margin_axis.plot([x], [record["margin"]], **style)
        if record.get("tightness") is not None:
            tightness_axis.plot([x], [record["tightness"]], **style)

    margin_axis.set_yscale("symlog", linthresh=1e-6)
    margin_axis.axhline(0.0, color="black", linewidth=0.8)
    margin_axis.set_ylabel("margin (symlog; steps or value units)")
    margin_axis.set_title("Margin of each verdict: positive means the inequality holds")
    tightness_axis.set_ylim(0.0, 1.05)
    tightness_axis.set_ylabel("tightness = observed / bound (at most 1)")
    tightness_axis.set_xticks(range(len(theorem_ids)), list(theorem_ids))
    tightness_axis.set_xlabel("theorem")

    handles = [Patch(color=colour, label=verdict) for verdict, colour in VERDICT_COLOURS.items()]
    handles += [Line2D([], [], color="grey", marker=marker, linestyle="none", label=kind) for kind, marker in CLAIM_MARKERS.items()]
    margin_axis.legend(handles=handles, fontsize=7, ncol=4, loc="lower right")
    return _save(figure, path)


# ------------------------------------------------------------ trajectories


def plot_trajectories(panel: Mapping[str, Any], path: str | Path) -> Path:
    """Plot ``p_i(k)`` on log-log axes with the guaranteed and observed low-rank intervals shaded.

    ``panel`` contains ``title``, ``steps``, ``curves`` (each with ``label``,
    ``low``, ``high``: the certified enclosure at every step), ``levels`` (each
    with ``value``, ``label`` and the index ``curve`` it belongs to, or None for
    a common level), ``guaranteed`` and ``observed`` (pairs ``(T0, T1)`` or None)
    and ``guarantee_name``.
    """
    figure = _new_figure(8.0, 5.0)
    axis = figure.subplots()
    steps = np.asarray(panel["steps"], dtype=float)
    shown = steps >= 1
    colours = [f"C{index}" for index in range(len(panel["curves"]))]

    for colour, curve in zip(colours, panel["curves"]):
        low, high = np.asarray(curve["low"])[shown], np.asarray(curve["high"])[shown]
        axis.fill_between(steps[shown], low, high, color=colour, alpha=0.35, linewidth=0)
        axis.plot(steps[shown], (low + high) / 2, color=colour, linewidth=1.4, label=curve["label"])

    for level in panel["levels"]:
        colour = "grey" if level["curve"] is None else colours[level["curve"]]
        axis.axhline(level["value"], color=colour, linestyle="--" if level["curve"] is not None else ":", linewidth=0.9,
                     label=level["label"])

    _shade(axis, panel["guaranteed"], GUARANTEED, f"guaranteed [T0, T1) ({panel['guarantee_name']})")
    _shade(axis, panel["observed"], OBSERVED, "observed [T0_obs, T1_obs)")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("gradient-descent step k (log scale)")
    axis.set_ylabel("product eigenvalue p_i(k) (log scale)")
    axis.set_title(panel["title"])
    axis.legend(fontsize=7, loc="lower right")
    return _save(figure, path)


# ---------------------------------------------------------- phase diagrams


def _edges(centres: np.ndarray, logarithmic: bool) -> np.ndarray:
    values = np.log(centres) if logarithmic else centres
    middle = (values[1:] + values[:-1]) / 2
    edges = np.concatenate([[2 * values[0] - middle[0]], middle, [2 * values[-1] - middle[-1]]])
    return np.exp(edges) if logarithmic else edges


def plot_phase_diagram(grid: Mapping[str, Any], path: str | Path) -> Path:
    """Plot where a low-rank phase is guaranteed and observed over ``(alpha, eta / eta_max)``.

    ``grid`` contains ``alphas`` and ``eta_ratios`` (the axes), ``guaranteed``,
    ``observed``, ``contradicted`` (a guaranteed integer window not inside the
    observed interval) and ``failed`` (boolean matrices indexed ``[eta, alpha]``),
    ``length_ratio`` (guaranteed over observed interval length, NaN where
    undefined), ``alpha_limit`` (where ``alpha^N = delta``) and ``title``.
    Colour shows the length ratio where both phases exist; grey marks an
    observed phase without a guarantee, white no phase, red a contradicted
    guarantee (a counterexample) and black a point whose run failed.
    """
    alphas = np.asarray(grid["alphas"], dtype=float)
    ratios = np.asarray(grid["eta_ratios"], dtype=float)
    guaranteed = np.asarray(grid["guaranteed"], dtype=bool)
    observed = np.asarray(grid["observed"], dtype=bool)
    contradicted = np.asarray(grid["contradicted"], dtype=bool)
    failed = np.asarray(grid["failed"], dtype=bool)
    length_ratio = np.asarray(grid["length_ratio"], dtype=float)

    category = np.full(guaranteed.shape, np.nan)
    category[~observed] = 0
    category[~guaranteed & observed] = 1
    category[contradicted] = 2
    category[failed] = 3
    shaded = np.where(guaranteed & observed & ~contradicted & ~failed, length_ratio, np.nan)

    figure = _new_figure(7.0, 6.0)
    axis = figure.subplots()
    x_edges, y_edges = _edges(alphas, True), _edges(ratios, False)
    background = ListedColormap(["white", "0.75", "tab:red", "black"])
    axis.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(category), cmap=background, vmin=-0.5, vmax=3.5)
    smallest = np.nanmin(shaded) if np.isfinite(shaded).any() else 1.0
    low = 0.5 if smallest >= 0.5 else 0.0
    mesh = axis.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(shaded), cmap="viridis", vmin=low, vmax=1.0)
    figure.colorbar(mesh, ax=axis, label="guaranteed length / observed length")
    axis.axvline(grid["alpha_limit"], color="black", linestyle="--", linewidth=1.0)

    handles = [
        Patch(facecolor="tab:olive", label="phase guaranteed (L1) and observed: colour = length ratio"),
        Patch(facecolor="0.75", edgecolor="0.5", label="phase observed, not guaranteed"),
        Patch(facecolor="white", edgecolor="0.5", label="no phase observed"),
        Patch(facecolor="tab:red", label="guaranteed window not observed (counterexample)"),
        Line2D([], [], color="black", linestyle="--", label="alpha^N = delta"),
    ]
    if failed.any():
        handles.append(Patch(facecolor="black", label="run failed"))
    figure.legend(handles=handles, fontsize=7, loc="outside lower center", ncols=2)
    axis.set_xscale("log")
    _plain_log_ticks(axis)
    axis.set_xlim(x_edges[0], x_edges[-1])
    axis.set_ylim(y_edges[0], y_edges[-1])
    axis.set_xlabel("initial scale alpha (log scale)")
    axis.set_ylabel("eta / eta_max, with S(lambda_1) = 1 at eta_max")
    axis.set_title(grid["title"])
    return _save(figure, path)


# ------------------------------------------------------------ noise sweeps


def plot_noise_intervals(sweep: Mapping[str, Any], path: str | Path) -> Path:
    """Plot the guaranteed ``[T0(sigma), T1(sigma))`` and the observed interval against sigma.

    ``sweep`` contains ``sigmas``, ``guaranteed_T0``/``guaranteed_T1`` and
    ``observed_T0``/``observed_T1`` (None where absent), ``sigma_max`` and ``title``.
    """
    figure = _new_figure(7.5, 4.8)
    axis = figure.subplots()
    sigmas = np.asarray(sweep["sigmas"], dtype=float)
    t0, t1 = _finite(sweep["guaranteed_T0"]), _finite(sweep["guaranteed_T1"])
    o0, o1 = _finite(sweep["observed_T0"]), _finite(sweep["observed_T1"])

    inside = np.isfinite(t0) & np.isfinite(t1) & (t0 < t1)
    axis.fill_between(sigmas, t0, t1, where=inside, label="guaranteed phase (Q1)", **GUARANTEED)
    axis.plot(sigmas, t0, color="tab:green", linewidth=1.5, label="T0(sigma), guaranteed start")
    axis.plot(sigmas, t1, color="tab:green", linewidth=1.5, linestyle="--", label="T1(sigma), guaranteed end")
    axis.plot(sigmas, o0, color="tab:blue", marker="o", markersize=4, linestyle="none", label="observed start T0_obs")
    axis.plot(sigmas, o1, color="tab:blue", marker="v", markersize=4, linestyle="none", label="observed end T1_obs")
    if sweep["sigma_max"] is not None:
        axis.axvline(sweep["sigma_max"], color="tab:red", linewidth=1.2, label=f"sigma_max = {sweep['sigma_max']:.4g}")

    axis.set_yscale("log")
    axis.set_xlabel("noise level sigma = ||E||_2")
    axis.set_ylabel("step k (log scale)")
    axis.set_title(sweep["title"])
    axis.legend(fontsize=7)
    return _save(figure, path)


def plot_iteration_complexity(sweep: Mapping[str, Any], path: str | Path) -> Path:
    """Plot the bound ``K_i(sigma)`` of P3 against the observed step count, one colour per eigenvalue.

    ``sweep`` contains ``sigmas``, ``bound`` and ``observed`` (one list per index
    ``i``, None where undefined) and ``title``.
    """
    figure = _new_figure(7.5, 4.8)
    axis = figure.subplots()
    sigmas = np.asarray(sweep["sigmas"], dtype=float)
    for index, (bound, observed) in enumerate(zip(sweep["bound"], sweep["observed"])):
        axis.plot(sigmas, _finite(bound), color=f"C{index}", linewidth=1.5, label=f"K_{index + 1}(sigma), bound of P3")
        axis.plot(sigmas, _finite(observed), color=f"C{index}", marker="o", markersize=4, linestyle="none",
                  label=f"observed steps, i = {index + 1}")
    axis.set_yscale("log")
    axis.set_xlabel("noise level sigma = ||E||_2")
    axis.set_ylabel("steps until |p_i(k) - lambda_i| <= sigma + e (log scale)")
    axis.set_title(sweep["title"])
    axis.legend(fontsize=7)
    return _save(figure, path)


def plot_recovery(sweep: Mapping[str, Any], path: str | Path) -> Path:
    """Plot the eigenvalue and Frobenius recovery errors of the limit against their bounds (P2).

    ``sweep`` contains ``sigmas`` and the lists ``eigenvalue_error``,
    ``eigenvalue_bound``, ``frobenius_error``, ``frobenius_bound`` and ``title``.
    """
    figure = _new_figure(7.5, 4.8)
    axis = figure.subplots()
    sigmas = np.asarray(sweep["sigmas"], dtype=float)
    axis.plot(sigmas, _finite(sweep["eigenvalue_bound"]), color="tab:blue", linewidth=1.2, label="bound sigma")
    axis.plot(sigmas, _finite(sweep["eigenvalue_error"]), color="tab:blue", marker="o", markersize=4, linestyle="none",
              label="max_i |lambda_i((Mhat)_+) - lambda_i|")
    axis.plot(sigmas, _finite(sweep["frobenius_bound"]), color="tab:purple", linewidth=1.2, linestyle="--",
              label="bound ||E||_F")
    axis.plot(sigmas, _finite(sweep["frobenius_error"]), color="tab:purple", marker="s", markersize=4, linestyle="none",
              label="||(Mhat)_+ - M||_F")
    axis.set_xlabel("noise level sigma = ||E||_2")
    axis.set_ylabel("error of the limit W_inf = (Mhat)_+")
    axis.set_title(sweep["title"])
    axis.legend(fontsize=7)
    return _save(figure, path)


# ---------------------------------------------------------- effective rank


def plot_effective_rank(panels: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Plot ``erank(W(k))`` over ``k`` for several depths, with theorem E's window and tolerance band.

    Each panel contains ``title``, ``steps``, ``erank``, ``window`` (``(k_start,
    k_end)`` or None), ``reference`` (``erank(M_r)``), ``bound`` (the allowed
    deviation, or None) and ``full_rank`` (``erank(M)``).
    """
    columns = min(len(panels), 2)
    row_count = math.ceil(len(panels) / columns)
    figure = _new_figure(5.0 * columns, 3.6 * row_count + 0.8)
    axes = np.atleast_1d(figure.subplots(row_count, columns, sharey=True, squeeze=False)).ravel()
    for axis in axes[len(panels):]:
        axis.set_visible(False)
    for axis, panel in zip(axes, panels):
        steps = np.asarray(panel["steps"], dtype=float)
        shown = steps >= 1
        _shade(axis, panel["window"], GUARANTEED, "window [k_start, k_end) of E")
        if panel["bound"] is not None:
            axis.axhspan(panel["reference"] - panel["bound"], panel["reference"] + panel["bound"], color="tab:orange",
                         alpha=0.15, label="erank(M_r) +- bound of E")
        axis.axhline(panel["reference"], color="tab:orange", linestyle="--", linewidth=1.0, label="erank(M_r)")
        axis.axhline(panel["full_rank"], color="grey", linestyle=":", linewidth=1.0, label="erank(M)")
        axis.plot(steps[shown], np.asarray(panel["erank"])[shown], color="black", linewidth=1.4, label="erank(W(k))")
        axis.set_xscale("log")
        axis.set_xlabel("step k (log scale)")
        axis.set_ylabel("erank = exp(-sum q ln q)")
        axis.set_title(panel["title"], fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=3)
    return _save(figure, path)


# --------------------------------------------------------------- real data


def plot_rank_phases(panels: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Plot, per subsample size, the observed and guaranteed low-rank phase of each rank as bars.

    Each panel contains ``title`` and ``rows`` with ``rank``, ``observed`` and
    ``guaranteed`` (pairs ``(T0, T1)`` or None).
    """
    columns = min(len(panels), 3)
    row_count = math.ceil(len(panels) / columns)
    figure = _new_figure(4.0 * columns, 3.2 * row_count + 0.4)
    axes = np.atleast_1d(figure.subplots(row_count, columns, sharey=True, sharex=True, squeeze=False)).ravel()
    for axis in axes[len(panels):]:
        axis.set_visible(False)
    ranks = sorted({row["rank"] for panel in panels for row in panel["rows"]})
    ends = [value for panel in panels for row in panel["rows"] for key in ("observed", "guaranteed") if row[key] for value in row[key]]
    for axis, panel in zip(axes, panels):
        for row in panel["rows"]:
            for offset, key, colour in ((0.18, "observed", "tab:blue"), (-0.18, "guaranteed", "tab:green")):
                interval = row[key]
                if interval is not None:
                    axis.barh(row["rank"] + offset, interval[1] - interval[0], left=interval[0], height=0.32, color=colour)
            if row["observed"] is None and row["guaranteed"] is None:
                axis.text(0.03, row["rank"], "no phase", va="center", fontsize=7, transform=axis.get_yaxis_transform())
        axis.set_xscale("log")
        _plain_log_ticks(axis)
        axis.set_xlabel("step k (log scale)")
        axis.set_ylabel("rank r")
        axis.set_title(panel["title"], fontsize=9)
    axes[0].set_yticks(ranks)
    axes[0].set_ylim(ranks[0] - 0.6, ranks[-1] + 0.6)
    if ends:
        axes[0].set_xlim(max(min(ends) / 1.5, 1.0), max(ends) * 1.5)
    figure.legend(handles=[Patch(color="tab:blue", label="observed [T0, T1)"), Patch(color="tab:green", label="guaranteed (Q1)")],
                  fontsize=8, loc="outside lower center", ncols=2)
    return _save(figure, path)


def plot_sigma_margin(points: Mapping[str, Any], path: str | Path) -> Path:
    """Plot the noise level sigma of each subsample against ``sigma_max`` of each rank.

    ``points`` contains ``sizes``, ``sigmas`` and ``sigma_max`` (rank -> value or None).  Sizes with
    ``sigma = 0`` (the full data set) cannot be drawn on the log axis and are left out.
    """
    figure = _new_figure(7.0, 4.5)
    axis = figure.subplots()
    drawn = [(size, sigma) for size, sigma in zip(points["sizes"], points["sigmas"]) if sigma > 0]
    axis.plot([size for size, _ in drawn], [sigma for _, sigma in drawn], color="black", marker="o",
              label="sigma = ||Mhat - M||_2 of the subsample")
    for index, (rank, value) in enumerate(sorted(points["sigma_max"].items())):
        if value is None or value <= 0:
            axis.plot([], [], color=f"C{index}", linestyle="--", label=f"rank {rank}: no guaranteed phase even at sigma = 0")
        else:
            axis.axhline(value, color=f"C{index}", linestyle="--", label=f"sigma_max, rank {rank} = {value:.3g}")
    axis.set_xscale("log")
    axis.set_yscale("log")
    _plain_log_ticks(axis)
    axis.set_xlabel("subsample size (images, log scale)")
    axis.set_ylabel("noise level (log scale)")
    axis.set_title("Subsample noise against the robustness margin sigma_max of Q1")
    axis.legend(fontsize=7)
    return _save(figure, path)


def plot_early_stopping(curves: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Plot ``||W(k) - M||`` against ``k`` per subsample in the Frobenius and the spectral norm.

    Each curve contains ``label``, ``steps``, ``frobenius`` and ``spectral`` (the
    errors at the steps) and ``noise_frobenius`` and ``noise_spectral`` (the
    norms of ``Mhat - M``, drawn dashed in the same colour unless 0).  A dot
    marks the minimum over ``k`` of each curve.
    """
    figure = _new_figure(11.0, 4.8)
    axes = figure.subplots(1, 2)
    for axis, norm, name in ((axes[0], "frobenius", "F"), (axes[1], "spectral", "2")):
        for index, curve in enumerate(curves):
            steps = np.asarray(curve["steps"], dtype=float)
            error = np.asarray(curve[norm], dtype=float)
            shown = steps >= 1
            colour = f"C{index}"
            axis.plot(steps[shown], error[shown], color=colour, linewidth=1.4, label=curve["label"])
            if curve[f"noise_{norm}"] > 0:
                axis.axhline(curve[f"noise_{norm}"], color=colour, linestyle="--", linewidth=0.9)
            best = int(np.argmin(error))
            axis.plot([max(steps[best], 1.0)], [error[best]], color=colour, marker="o", markersize=5)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("gradient-descent step k (log scale)")
        axis.set_ylabel(f"||W(k) - M||_{name} (log scale)")
        axis.set_title(f"{'Frobenius' if name == 'F' else 'Spectral'} norm; dashed: ||Mhat - M||_{name}", fontsize=10)
    axes[0].plot([], [], color="grey", marker="o", linestyle="none", label="minimum over k")
    axes[0].legend(fontsize=7, loc="lower left")
    return _save(figure, path)
