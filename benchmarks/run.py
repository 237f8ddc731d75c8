"""Run the benchmark modules of dmfverify and print one table.

Usage::

    python benchmarks/run.py [--quick] [--only NAME] [--markdown PATH]

Every ``bench_*.py`` module next to this file exposes ``run(quick: bool) -> list[dict]``.
Each dict describes one measurement with the keys ``name``, ``value``, ``unit``,
``baseline``, ``ratio``, ``target`` and ``note``.  ``ratio`` compares ``value`` with
``baseline`` and ``target`` is the minimum ratio required (``None`` when the row is
informative only).  A row with the optional key ``lower_is_better=True`` meets its target
when ``ratio <= target`` instead, for times where the engine must not be slower.
The runner prints the hardware and the load average, the table and whether each target
is met.  It exits with status 1 when a module fails or a target is missed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import logging
import os
import platform
import sys
import traceback
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parent
COLUMNS = ("name", "value", "unit", "baseline", "ratio", "target", "meets", "note")

logger = logging.getLogger("benchmarks")


def discover(only: str | None) -> list[Path]:
    """Return the ``bench_*.py`` files of this folder, sorted, filtered by ``only``."""
    paths = sorted(BENCH_DIR.glob("bench_*.py"))
    if only:
        paths = [path for path in paths if only in path.stem]
    return paths


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmarks.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hardware() -> list[tuple[str, str]]:
    """Return the machine description printed above the table."""
    import numba
    import numpy

    return [
        ("platform", platform.platform()),
        ("processor", platform.processor() or platform.machine()),
        ("logical CPUs (os.cpu_count)", str(os.cpu_count())),
        ("numba threads", str(numba.get_num_threads())),
        ("python", platform.python_version()),
        ("numpy / numba", f"{numpy.__version__} / {numba.__version__}"),
        ("load average at start (1, 5, 15 min)",
         ", ".join(f"{load:.2f}" for load in os.getloadavg())),
    ]


def format_number(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def meets(row: dict) -> str:
    target = row.get("target")
    ratio = row.get("ratio")
    if target is None or ratio is None:
        return ""
    met = ratio <= target if row.get("lower_is_better") else ratio >= target
    return "yes" if met else "NO"


def table_lines(rows: list[dict], markdown: bool) -> list[str]:
    cells = [[format_number(row.get(column)) if column != "meets" else meets(row)
              for column in COLUMNS] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |"
                  for row in cells]
        return lines

    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in
              enumerate(COLUMNS)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(COLUMNS, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in cells]
    return lines


def write_markdown(path: Path, command: str, machine: list[tuple[str, str]],
                   rows: list[dict]) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Generated {datetime.datetime.now().isoformat(timespec='seconds')} by `{command}`.",
        "Rates are best of several repetitions on this machine; rerun the command to update.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in machine]
    lines += ["", "## Results", ""]
    lines += table_lines(rows, markdown=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the dmfverify benchmarks.")
    parser.add_argument("--quick", action="store_true",
                        help="run about ten times less work per measurement (noisier)")
    parser.add_argument("--only", metavar="NAME",
                        help="run only the modules whose file name contains NAME")
    parser.add_argument("--markdown", metavar="PATH", type=Path,
                        help="also write the results as a Markdown page to PATH")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    machine = hardware()
    for key, value in machine:
        print(f"{key}: {value}")
    print()

    rows: list[dict] = []
    failed = False
    for path in discover(arguments.only):
        logger.info("running %s", path.name)
        try:
            rows.extend(load(path).run(arguments.quick))
        except Exception:  # one broken module must not hide the others' results
            failed = True
            logger.error("benchmark module %s failed:\n%s", path.name, traceback.format_exc())
            rows.append({"name": path.stem, "note": "failed, see the log above"})

    print("\n".join(table_lines(rows, markdown=False)))
    if arguments.markdown:
        command = "python benchmarks/run.py" + (" --quick" if arguments.quick else "")
        write_markdown(arguments.markdown, command, machine, rows)
        logger.info("wrote %s", arguments.markdown)

    missed = any(meets(row) == "NO" for row in rows)
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
