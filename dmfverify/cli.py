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

from dmfverify.errors import DmfverifyError, InvalidArgument
from dmfverify.verdict import Outcome

__all__ = ["main", "builtin_case_paths"]


def builtin_case_paths() -> list[Path]:
    """Return the instance files of the built-in problem library, sorted by name."""
    folder = resources.files("dmfverify") / "data" / "cases"
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".json"))


def _integer(minimum: int, maximum: int | None = None):
    """Return an argparse type that accepts an integer in ``[minimum, maximum]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            allowed = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise argparse.ArgumentTypeError(f"{value} is invalid: it must be {allowed}")
        return value

    return parse


def _positive_seconds(text: str) -> float:
    """Parse a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is invalid: it must be a positive, finite number of seconds")
    return value


#: Decimal digits accepted by --dps.  Evaluating a bound costs more than linearly in the digits,
#: and ties that 1000 digits cannot separate are equalities in practice.
_MAX_DPS = 1000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dmfverify", description="Check theorems about gradient descent in deep matrix factorization.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="run gradient descent on an instance and print the observed quantities")
    simulate.add_argument("case", help="instance JSON file")
    simulate.add_argument("--engine", choices=("scalar", "matrix"), default="scalar", help="scalar recurrences (aligned start) or full factor GD")
    simulate.add_argument("--arithmetic", choices=("float64", "mpmath", "certified"), default="certified", help="number arithmetic (default: certified)")
    simulate.add_argument("--dps", type=_integer(5, _MAX_DPS), default=50, help="decimal digits for --arithmetic mpmath (default 50)")
    simulate.add_argument("--bits", type=_integer(53), default=53, help="binary precision for --arithmetic certified (default 53)")
    simulate.add_argument("--horizon", type=_integer(0), default=None, help="steps to simulate (default: until every tracked level is reached, estimated)")
    simulate.add_argument("--data-dir", default=None, help="folder with digits.csv.gz for real-data instances (default: scikit-learn)")
    simulate.add_argument("--format", choices=("text", "json"), default="text")

    commands.add_parser("list", help="list the theorems of the catalog").add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")

    show = commands.add_parser("show", help="print a theorem's statement as text and LaTeX")
    show.add_argument("theorem")
    show.add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")

    invariance = commands.add_parser("invariance", help="check bound formulas for the scaling invariance and the noiseless limit, before any run")
    invariance.add_argument("--theorem", action="append", default=[], help="check only this theorem id (repeatable)")
    invariance.add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")
    invariance.add_argument("--samples", type=_integer(1), default=6, help="sample instances per theorem (default 6)")

    check = commands.add_parser("check", help="check theorems on instances")
    check.add_argument("cases", nargs="*", help="instance JSON files (default: the built-in problem library)")
    check.add_argument("--theorem", action="append", default=[], help="check only this theorem id (repeatable)")
    check.add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")
    check.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    check.add_argument("--dps", type=_integer(15, _MAX_DPS), default=50, help="decimal digits for bounds and hypotheses (default 50)")
    check.add_argument("--budget", type=_integer(1), default=5_000_000, help="largest number of steps per eigenvalue a run may use")
    check.add_argument("--data-dir", default=None, help="folder with digits.csv.gz for real-data instances (default: scikit-learn)")

    report = commands.add_parser("report", help="regenerate the Markdown reports with figures")
    report.add_argument("--out", default="reports", help="output folder (default: reports)")
    report.add_argument("--quick", action="store_true", help="one tiny instance and the smallest grids: a smoke test of about a minute")
    report.add_argument("--latex", action="store_true", help="also write LaTeX tables into OUT/tables")
    report.add_argument("--data-dir", default=None, help="folder with digits.csv.gz for the real-data sections (default: scikit-learn)")
    report.add_argument("--workers", type=_integer(1), default=2, help="worker processes for the sweeps (default 2; 1 runs in this process)")
    report.add_argument("--timeout", type=_positive_seconds, default=1800.0,
                        help="seconds after which unfinished sweep tasks are stopped and reported as timed out (default 1800)")

    hunt = commands.add_parser("hunt", help="search for counterexamples to a theorem with Hypothesis")
    hunt.add_argument("theorem", help="theorem id (see 'dmfverify list')")
    hunt.add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")
    limit = hunt.add_mutually_exclusive_group()
    limit.add_argument("--budget", type=_integer(1), default=None, help="distinct instances to judge (default 1000); shrinking a violation may add a few hundred checks")
    limit.add_argument("--time", type=_positive_seconds, default=None, help="wall-clock limit in seconds")
    hunt.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    hunt.add_argument("--corpus", default=None, help="folder for counterexamples and the example database (default: hunt-corpus/THEOREM)")
    hunt.add_argument("--workers", type=_integer(1), default=1, help="local processes, each with its own seed (default 1)")
    hunt.add_argument("--max-counterexamples", type=_integer(0), default=10, help="violations to shrink and write per worker (default 10)")
    hunt.add_argument("--check-timeout", type=_positive_seconds, default=60.0, help="seconds after which one check counts as ERROR (default 60)")
    hunt.add_argument("--step-budget", type=_integer(1), default=5_000_000, help="largest number of steps per eigenvalue a run may use")
    hunt.add_argument("--json", default=None, help="also write the summary as JSON to this file")
    hunt.add_argument("--steer", action="append", default=[], metavar="FIELD=VALUE",
                      help="override a field of the theorem's instance steering, e.g. noise=none or step_size_range=0.9,1 (repeatable)")

    replay = commands.add_parser("replay", help="re-check stored counterexamples and instance files and show what changed")
    replay.add_argument("paths", nargs="+", help="counterexample or instance JSON files, or folders of them")
    replay.add_argument("--theorem", action="append", default=[], help="check plain instance files against this theorem id (repeatable; default all)")
    replay.add_argument("--theorems", action="append", default=[], help="also load theorem modules from this file or folder")
    replay.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    replay.add_argument("--max-bits", type=_integer(53), default=1024, help="precision cap of the certified enclosure (default 1024)")
    replay.add_argument("--no-expected", action="store_true",
                        help="skip comparing the 'expected' values of instance files with a fresh certified run (one scalar run per file)")

    diff = commands.add_parser("diff", help="compare two versions of a theorem module on a corpus of instances")
    diff.add_argument("old", help="theorem module file before the edit")
    diff.add_argument("new", help="theorem module file after the edit")
    diff.add_argument("corpus", nargs="*", help="instance or counterexample files or folders (default: the built-in problem library)")
    diff.add_argument("--theorem", action="append", default=[], help="compare only this theorem id (repeatable)")
    diff.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    diff.add_argument("--data-dir", default=None, help="folder with digits.csv.gz for real-data instances (default: scikit-learn)")
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
    except BrokenPipeError:
        # The reader of the output went away (for example `| head`); that is not an error of the check.
        sys.stderr.close()
        return 0


def _theorems(arguments) -> list:
    from dmfverify.theorem_loader import builtin_theorems, load_theorems

    theorems = builtin_theorems()
    for path in arguments.theorems:
        theorems.extend(load_theorems(path))
    seen: set[str] = set()
    for theorem in theorems:
        if theorem.id in seen:
            raise InvalidArgument(f"theorem id {theorem.id!r} is defined twice (a module in --theorems reuses it); give the new theorem another id.")
        seen.add(theorem.id)
    return theorems


def _simulate(arguments) -> int:
    from dmfverify.instance import load_instance
    from dmfverify.simulation import observe

    if arguments.dps < 15:
        raise InvalidArgument(f"--dps {arguments.dps} is invalid: use at least 15 decimal digits, e.g. --dps 50.")
    if arguments.bits < 53:
        raise InvalidArgument(f"--bits {arguments.bits} is invalid: the certified arithmetic needs at least 53 bits.")
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


def _invariance(arguments) -> int:
    from dmfverify.invariance import noiseless_limit_check, scaling_check
    from dmfverify.theorem_loader import select

    theorems = select(_theorems(arguments), arguments.theorem)
    by_id = {theorem.id: theorem for theorem in _theorems(arguments)}
    results = [scaling_check(theorem, count=arguments.samples) for theorem in theorems]
    if "Q1" in {theorem.id for theorem in theorems} and "L1" in by_id:
        results.append(noiseless_limit_check(by_id["Q1"], by_id["L1"], count=arguments.samples))
    for result in results:
        print(result)
    return 1 if any(result.status == "BROKEN" for result in results) else 0


def _check(arguments) -> int:
    from dmfverify.checker import CheckOptions, check
    from dmfverify.instance import load_instance
    from dmfverify.report import markdown_table, per_rank_table, text_table
    from dmfverify.theorem_loader import select

    theorems = select(_theorems(arguments), arguments.theorem)
    paths = [Path(path) for path in arguments.cases] or builtin_case_paths()
    instances = [load_instance(path, data_dir=arguments.data_dir) for path in paths]
    if arguments.dps < 15:
        raise InvalidArgument(f"--dps {arguments.dps} is invalid: bounds need at least 15 decimal digits; pass e.g. --dps 50.")
    if arguments.budget < 1:
        raise InvalidArgument(f"--budget {arguments.budget} is invalid: it must be a positive number of steps.")
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


def _report(arguments) -> int:
    from dmfverify.reporting import build_reports

    # Progress of the sweeps is logged at INFO level; show it without --debug.
    logging.getLogger("dmfverify.reporting").setLevel(logging.INFO)
    result = build_reports(arguments.out, quick=arguments.quick, latex=arguments.latex, data_dir=arguments.data_dir,
                           workers=arguments.workers, timeout=arguments.timeout)
    print(f"wrote {len(result.files)} files into {result.out} in {result.seconds:.0f} s")
    return 0


def _hunt(arguments) -> int:
    from dmfverify.checker import CheckOptions
    from dmfverify.hunt import ProgressLine, hunt
    from dmfverify.hunt_parallel import hunt_parallel
    from dmfverify.io import atomic_write_text
    from dmfverify.strategies import parse_steering
    from dmfverify.theorem_loader import select

    # The hunt logs its start, its finds and a progress line every 30 s at INFO level; show them without --debug.
    if not arguments.debug:
        logging.getLogger("dmfverify.hunt").setLevel(logging.INFO)
        logging.getLogger("dmfverify.hunt_parallel").setLevel(logging.INFO)
    theorem = select(_theorems(arguments), [arguments.theorem])[0]
    corpus = Path(arguments.corpus) if arguments.corpus else Path("hunt-corpus") / theorem.id
    display = ProgressLine(sys.stderr)
    common = dict(budget=arguments.budget, time_limit=arguments.time, seed=arguments.seed, corpus=corpus,
                  options=CheckOptions(budget=arguments.step_budget), check_timeout=arguments.check_timeout,
                  max_counterexamples=arguments.max_counterexamples, progress=display.update,
                  steering=parse_steering(arguments.steer))
    try:
        if arguments.workers > 1:
            result = hunt_parallel(theorem.id, workers=arguments.workers, theorem_paths=tuple(arguments.theorems), **common)
        else:
            result = hunt(theorem, **common)
    finally:
        display.close()

    print(result.summary())
    if arguments.json:
        atomic_write_text(Path(arguments.json), json.dumps(result.to_dict(), indent=1) + "\n")

    # Exit 1 on any violation, written or not; 2 when no check could be judged at all.
    violated = result.counts.get("VIOLATED", 0)
    if result.counterexamples:
        return 1
    if violated:
        print(f"dmfverify: {violated} instance(s) were VIOLATED but none was written "
              f"(--max-counterexamples {arguments.max_counterexamples}, {result.unconfirmed} not confirmed at high precision)",
              file=sys.stderr)
        return 1
    if result.judged and result.counts.get("ERROR", 0) == result.judged:
        print(f"dmfverify: every one of the {result.judged} checks ended in ERROR; run 'dmfverify check' on an instance "
              f"from {corpus / 'errors'} to see why", file=sys.stderr)
        return 2
    return 130 if result.interrupted else 0


def _replay(arguments) -> int:
    from dmfverify.replay import exit_code, render_replay, replay, replay_expected

    paths = [Path(path) for path in arguments.paths]
    records = replay(paths, _theorems(arguments), theorem_ids=arguments.theorem, max_bits=arguments.max_bits)
    expected = None if arguments.no_expected else replay_expected(paths)
    print(render_replay(records, arguments.format, expected))
    return exit_code(records, expected or ())


def _diff(arguments) -> int:
    from dmfverify.replay import diff_exit_code, diff_theorems, render_diff

    paths = [Path(path) for path in arguments.corpus] or builtin_case_paths()
    rows = diff_theorems(Path(arguments.old), Path(arguments.new), paths, theorem_ids=arguments.theorem, data_dir=arguments.data_dir)
    print(render_diff(rows, arguments.format))
    return diff_exit_code(rows)


_COMMANDS = {"simulate": _simulate, "list": _list, "show": _show, "check": _check, "invariance": _invariance, "report": _report, "hunt": _hunt, "replay": _replay, "diff": _diff}


if __name__ == "__main__":
    sys.exit(main())
