"""Tables of verdicts (text and Markdown) and the per-rank summary of a real-data target."""

from __future__ import annotations


from dmfverify.instance import Instance
from dmfverify.verdict import Verdict

__all__ = ["text_table", "markdown_table", "per_rank_table"]

_COLUMNS = ("theorem", "claim", "instance", "verdict", "observed", "bound", "margin", "tightness", "precision")


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def text_table(verdicts: list[Verdict]) -> str:
    """Return an aligned plain-text table with one row per verdict and its reason below."""
    rows = [[_cell(getattr(verdict, column)) for column in _COLUMNS] for verdict in verdicts]
    widths = [max(len(column), *(len(row[j]) for row in rows)) if rows else len(column) for j, column in enumerate(_COLUMNS)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(_COLUMNS, widths))]
    for verdict, row in zip(verdicts, rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
        lines.append(f"    {verdict.reason}")
    return "\n".join(lines)


def markdown_table(verdicts: list[Verdict]) -> str:
    """Return a Markdown table of the verdicts."""
    lines = ["| " + " | ".join(_COLUMNS) + " | reason |", "|" + "---|" * (len(_COLUMNS) + 1)]
    for verdict in verdicts:
        cells = [_cell(getattr(verdict, column)) for column in _COLUMNS] + [verdict.reason.replace("|", "/")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_rank_table(instance: Instance, ranks: range | None = None) -> str:
    """Say per rank whether a low-rank phase is observed and whether the theory guarantees one.

    For each rank ``r`` the guaranteed interval is that of the persistence
    theorem ``Q1`` (``T0(sigma) < T1(sigma)``), ``sigma_max`` is the largest noise
    level for which its spectral condition still holds (found by bisection on
    the same formula), and the observed phase is read off a certified run.
    """
    from dmfverify.phase import rank_summary

    lines = [f"Low-rank phases of {instance.id} (depth {instance.depth}, alpha {float(instance.alpha):g}, "
             f"eta {float(instance.eta):.6g}, eps {float(instance.eps):g}, delta {float(instance.delta):g})",
             f"{'rank':>4}  {'observed [T0, T1)':>22}  {'guaranteed [T0, T1)':>26}  {'sigma':>9}  {'sigma_max':>9}"]
    for row in rank_summary(instance, ranks):
        observed = "none" if row["observed"] is None else f"[{row['observed'][0]}, {row['observed'][1]})"
        guaranteed = "none" if row["guaranteed"] is None else f"[{row['guaranteed'][0]:.1f}, {row['guaranteed'][1]:.1f})"
        lines.append(f"{row['rank']:>4}  {observed:>22}  {guaranteed:>26}  {row['sigma']:>9.4f}  {_cell(row['sigma_max']):>9}")
    return "\n".join(lines)
