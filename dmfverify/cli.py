"""Command-line interface: ``dmfverify simulate | list | show | check``.

Exit codes: 0 when nothing is ``VIOLATED`` or ``ERROR``; 1 when a claim is
``VIOLATED``; 2 on ``ERROR`` or invalid input (one sentence on stderr, no
traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib import resources
from pathlib import Path

from dmfverify.errors import DmfverifyError
from dmfverify.verdict import Outcome

__all__ = ["main", "builtin_case_paths"]


def builtin_case_paths() -> list[Path]:
    """Return the instance files of the built-in problem library, sorted by name."""
    folder = resources.files("dmfverify") / "data" / "cases"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".json"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dmfverify", description="Check theorems about gradient descent in deep matrix factorization.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="run gradient descent on an instance and print the observed quantities")
    simulate.add_argument("case", help="instance JSON file")
    simulate.add_argument("--engine", choices=("scalar", "matrix"), default="scalar", help="scalar recurrences (aligned start) or full factor GD")
    simulate.add_argument("--arithmetic", choices=("float64", "mpmath", "certified"), default="certified", help="number arithmetic (default: certified)")
    simulate.add_argument("--dps", type=int, default=50, help="decimal digits for --arithmetic mpmath (default 50)")
    simulate.add_argument("--bits", type=int, default=53, help="binary precision for --arithmetic certified (default 53)")
    simulate.add_argument("--horizon", type=int, default=None, help="steps to simulate (default: until every tracked level is reached, estimated)")
    simulate.add_argument("--data-dir", default=None, help="folder with digits.csv.gz for real-data instances (default: scikit-learn)")
    simulate.add_argument("--format", choices=("text", "json"), default="text")

    commands.add_parser("list", help="list the theorems of the catalog").add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")

    show = commands.add_parser("show", help="print a theorem's statement as text and LaTeX")
    show.add_argument("theorem")
    show.add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")

    check = commands.add_parser("check", help="check theorems on instances")
    check.add_argument("cases", nargs="*", help="instance JSON files (default: the built-in problem library)")
    check.add_argument("--theorem", action="append", default=[], help="check only this theorem id (repeatable)")
    check.add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")
    check.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    check.add_argument("--dps", type=int, default=50, help="decimal digits for bounds and hypotheses (default 50)")
    check.add_argument("--budget", type=int, default=5_000_000, help="largest number of steps per eigenvalue a run may use")
    check.add_argument("--data-dir", default=None, help="folder with digits.csv.gz for real-data instances (default: scikit-learn)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if arguments.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _COMMANDS[arguments.command](arguments)
    except (DmfverifyError, OSError) as error:
        if arguments.debug:
            raise
        print(f"dmfverify: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dmfverify: interrupted", file=sys.stderr)
        return 130


def _theorems(arguments) -> list:
    from dmfverify.theorem_loader import builtin_theorems, load_theorems

    theorems = builtin_theorems()
    for path in arguments.theorems:
        theorems.extend(load_theorems(path))
    return theorems


def _simulate(arguments) -> int:
    from dmfverify.instance import load_instance
    from dmfverify.simulation import observe

    instance = load_instance(arguments.case, data_dir=arguments.data_dir)
    result = observe(instance, engine=arguments.engine, arithmetic=arguments.arithmetic, dps=arguments.dps,
                     bits=arguments.bits, horizon=arguments.horizon)
    if arguments.format == "json":
        print(json.dumps(result, indent=1))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def _list(arguments) -> int:
    for theorem in _theorems(arguments):
        print(f"{theorem.id:4s} {theorem.status:10s} {theorem.family:16s} {theorem.title}")
    return 0


def _show(arguments) -> int:
    from dmfverify.theorem_loader import select

    theorem = select(_theorems(arguments), [arguments.theorem])[0]
    print(theorem.describe())
    print()
    print(theorem.to_latex())
    return 0


def _check(arguments) -> int:
    from dmfverify.checker import CheckOptions, check
    from dmfverify.instance import load_instance
    from dmfverify.report import markdown_table, per_rank_table, text_table
    from dmfverify.theorem_loader import select

    theorems = select(_theorems(arguments), arguments.theorem)
    paths = [Path(path) for path in arguments.cases] or builtin_case_paths()
    instances = [load_instance(path, data_dir=arguments.data_dir) for path in paths]
    options = CheckOptions(dps=arguments.dps, budget=arguments.budget)

    verdicts = []
    for instance in instances:
        for theorem in theorems:
            verdicts.extend(check(theorem, instance, options))

    if arguments.format == "json":
        print(json.dumps([verdict.to_dict() for verdict in verdicts], indent=1))
    elif arguments.format == "markdown":
        print(markdown_table(verdicts))
    else:
        print(text_table(verdicts))
        for instance in instances:
            if instance.kind == "perturbed_low_rank_phase_from_data":
                print()
                print(per_rank_table(instance))

    outcomes = {verdict.verdict for verdict in verdicts}
    if Outcome.ERROR in outcomes:
        return 2
    if Outcome.VIOLATED in outcomes:
        return 1
    return 0


_COMMANDS = {"simulate": _simulate, "list": _list, "show": _show, "check": _check}


if __name__ == "__main__":
    sys.exit(main())
