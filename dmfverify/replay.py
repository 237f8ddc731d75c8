"""The counterexample corpus: file records, replay, and comparing two versions of a theorem module.

A corpus is a folder of JSON records written by :func:`dmfverify.hunt.hunt`,
one per certified violation (:func:`counterexample_record`), named by
:func:`instance_key`, with ``errors/`` and ``suspect/`` subfolders for
instances the checker could not judge cleanly and the Hypothesis database in
``.hypothesis/``.

:func:`replay` re-checks counterexample files written by a hunt (and plain
instance files) and reports, claim by claim, what changed since they were
stored: the verdict and the margin.  A counterexample that no longer comes out
``VIOLATED`` after an edit to the engines or to a bound shows up at once.

:func:`diff_theorems` loads the theorems of two module files (say, before and
after changing a constant), checks both on a corpus of instances and pairs
the verdicts by instance, theorem id and claim.  The rendering shows the bound
values and verdicts side by side, the instances whose verdict changed, and,
where both versions hold, which one is tighter.  With the same instance the observed value is the
same for both versions, so the smaller margin belongs to the tighter bound.

:func:`replay_expected` compares the ``expected`` block of each instance file
(reference values computed independently of this package) with a fresh
certified run, key by key (see :mod:`dmfverify.expected_values`), so that an
edit to an engine that moves, say, ``learn_times`` shows up as well.

Exit codes follow ``dmfverify check``: 2 when a current verdict is ``ERROR`` or
an expected value could not be compared because its run failed, 1 when a
verdict is ``VIOLATED`` or an expected value differs from the fresh run, 0
otherwise.  Ties, undecided ranges and keys that are not compared leave the
code unchanged.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from dmfverify.checker import CheckOptions, check
from dmfverify.errors import InvalidArgument
from dmfverify.expected_values import CERTIFIED_BITS, DIFFERS, ERROR, MATCHING, NOT_COMPARED, ExpectedComparison, comparison_rule, compare_expected
from dmfverify.instance import Instance, load_instance
from dmfverify.theorem import Theorem
from dmfverify.theorem_loader import load_theorems
from dmfverify.verdict import Outcome, Verdict

__all__ = ["ReplayRecord", "DiffRow", "replay", "replay_expected", "diff_theorems", "render_replay", "render_diff", "exit_code", "diff_exit_code",
           "instance_paths", "corpus_files", "instance_key", "violation_signature", "violation_score", "counterexample_record",
           "known_violations", "real_violations", "slug"]

logger = logging.getLogger(__name__)

#: Relative change of a margin reported as a change (smaller ones are rounding).
MARGIN_TOLERANCE = 1e-9


def _is_instance_file(path: Path) -> bool:
    """Return True for a JSON object that is an instance or a corpus record (not, say, a hunt summary)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return True  # Let the loader report the file with its reason.
    return isinstance(data, dict) and ("instance" in data or "depth" in data or "kind" in data)


def instance_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into instance files.

    Folders are searched recursively for ``*.json``, skipping hidden entries
    such as ``.hypothesis`` and JSON files that are neither instances nor
    corpus records (hunt summaries).  Files named explicitly are always kept.
    """
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            candidates = sorted(file for file in path.rglob("*.json")
                                if not any(part.startswith(".") for part in file.relative_to(path).parts))
            found += [file for file in candidates if _is_instance_file(file)]
        elif path.exists():
            found.append(path)
        else:
            raise InvalidArgument(f"path {str(path)!r} was not found; pass instance files, counterexample files or folders of them.")
    return found


def violation_score(verdict: Verdict) -> float | None:
    """Return ``-margin / max(|bound|, 1)`` for a verdict with a numeric margin and bound, else None.

    Positive exactly when the claim is violated.

    >>> from dmfverify.verdict import Verdict, Outcome
    >>> violation_score(Verdict("H1", "lower", "x", Outcome.VIOLATED, observed=90, bound=120.0, margin=-30.0))
    0.25
    >>> violation_score(Verdict("ER", "non-decreasing", "x", Outcome.HOLDS, observed=-0.1, bound=0.0, margin=0.1))
    -0.1
    """
    if verdict.margin is None or not math.isfinite(verdict.margin):
        return None
    try:
        scale = max(abs(float(verdict.bound)), 1.0)
    except (TypeError, ValueError):
        scale = 1.0
    return -verdict.margin / scale


# --------------------------------------------------------------------- corpus



def corpus_files(corpus: str | Path) -> list[Path]:
    """Return the counterexample files of a corpus folder (not the database or the error records), sorted."""
    folder = Path(corpus)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.json") if not path.name.startswith("."))


def instance_key(instance: Instance) -> str:
    """Return a 16-hex-digit hash of every field of an instance except its id (names corpus files)."""
    data = instance.to_dict(include_expected=False)
    data.pop("id", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def violation_signature(instance: Instance, claim: str) -> str:
    """Return the kind of a violation: the claim, depth, size, noise kind, rank, spectrum (1 digit), decade of ``alpha`` and ``S`` (1 decimal).

    A hunt writes at most one counterexample per signature: without this,
    every round after the first shrinks to a neighbour of the first
    counterexample that differs only in the last digit of ``alpha``.
    """
    spectrum = instance.spectrum if instance.spectrum is not None else ()
    top = max((float(value) for value in spectrum), default=1.0)
    S = float(instance.eta) * instance.depth * top ** (2 - 2 / instance.depth) if top > 0 else 0.0
    if instance.noise is None:
        noise = "none"
    elif all(instance.noise[a][b] == 0 for a in range(instance.n) for b in range(instance.n) if a != b):
        noise = "aligned"
    else:
        noise = "rotated"
    parts = [claim, instance.depth, instance.n, noise, instance.rank, [f"{float(value):.1g}" for value in spectrum],
             math.floor(math.log10(float(instance.alpha))), round(S, 1)]
    return json.dumps(parts)


def known_violations(corpus: Path | None) -> tuple[set[str], set[str]]:
    """Return the instance keys and violation signatures of the counterexamples already in a corpus."""
    keys, signatures = set(), set()
    for path in corpus_files(corpus) if corpus else []:
        try:
            data = json.loads(path.read_text())
            instance = Instance.from_dict(data["instance"])
            keys.add(instance_key(instance))
            signatures.update(violation_signature(instance, item["claim"]) for item in data.get("violated_claims", []))
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("corpus file %s is unreadable and is skipped: %s", path, error)
    return keys, signatures


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "claim"


def counterexample_record(theorem: Theorem, instance: Instance, verdicts: list[Verdict], *, seed: int | None = None,
                          worker: int = 0, options: CheckOptions | None = None) -> dict[str, Any]:
    """Build the corpus record of a violated instance (the most violated claim first)."""
    violated = sorted(real_violations(verdicts), key=lambda v: -(violation_score(v) or 0.0))
    if not violated:
        raise InvalidArgument(f"instance {instance.id!r} has no VIOLATED claim of {theorem.id}; only violations go into a corpus.")
    first = violated[0]
    return {
        "instance": instance.to_dict(include_expected=False),
        "theorem": theorem.id,
        "claim": first.claim,
        "verdict": str(first.verdict),
        "margin": first.margin,
        "found_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "observed": first.observed,
        "bound": first.bound,
        "score": violation_score(first),
        "reason": first.reason,
        "arithmetic": first.arithmetic,
        "precision": first.precision,
        "status": theorem.status,
        "violated_claims": [{"claim": v.claim, "margin": v.margin, "observed": v.observed, "bound": v.bound} for v in violated],
        "max_bits": (options or CheckOptions()).max_bits,
        "seed": seed,
        "worker": worker,
    }


# ----------------------------------------------------------------------- hunt


def real_violations(verdicts: list[Verdict]) -> list[Verdict]:
    """Return the VIOLATED verdicts except those whose margin is exactly 0.0.

    NOTE: a VIOLATED verdict whose observed value and bound agree as floats is an
    equality case: the checker's certified-error comparison claimed a strict
    violation that float arithmetic cannot see.  Such instances are kept in
    ``corpus/suspect`` and never shrunk, because shrinking drives every false
    bound to its equality boundary and would then only find these.
    """
    return [verdict for verdict in verdicts if verdict.verdict is Outcome.VIOLATED and verdict.margin != 0.0]



# --------------------------------------------------------------------- replay


def _margins_differ(old: float | None, new: float | None) -> bool:
    if old is None or new is None:
        return (old is None) != (new is None)
    if not (math.isfinite(old) and math.isfinite(new)):
        return old != new
    return abs(old - new) > MARGIN_TOLERANCE * max(1.0, abs(old), abs(new))


@dataclass
class ReplayRecord:
    """One claim of one stored file: the stored verdict and margin, and the current ones.

    ``stored_verdict`` and ``stored_margin`` are None for claims the file did
    not record (plain instance files record none).
    """

    path: Path
    theorem: str
    claim: str
    stored_verdict: str | None
    stored_margin: float | None
    current: Verdict

    @property
    def changed(self) -> bool:
        """True when a stored verdict or margin differs from the current one."""
        if self.stored_verdict is None:
            return False
        return self.stored_verdict != str(self.current.verdict) or _margins_differ(self.stored_margin, self.current.margin)

    def change(self) -> str:
        """Return a short description of the change (``"unchanged"``, ``"new"``, or old -> new)."""
        if self.stored_verdict is None:
            return "new"
        if self.stored_verdict != str(self.current.verdict):
            return f"verdict {self.stored_verdict} -> {self.current.verdict}"
        if _margins_differ(self.stored_margin, self.current.margin):
            return f"margin {_number(self.stored_margin)} -> {_number(self.current.margin)}"
        return "unchanged"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"path": str(self.path), "theorem": self.theorem, "claim": self.claim, "stored_verdict": self.stored_verdict,
                "stored_margin": self.stored_margin, "verdict": str(self.current.verdict), "margin": self.current.to_dict()["margin"],
                "bound": self.current.bound, "observed": self.current.observed, "changed": self.changed, "change": self.change(),
                "reason": self.current.reason}


def _stored_claims(data: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    stored = {}
    for item in data.get("violated_claims", []):
        stored[item["claim"]] = ("VIOLATED", item.get("margin"))
    if "claim" in data and "verdict" in data:
        stored[data["claim"]] = (data["verdict"], data.get("margin"))
    return stored


def replay(paths: Sequence[str | Path], theorems: list[Theorem], *, theorem_ids: Sequence[str] = (), max_bits: int = 1024,
           options: CheckOptions | None = None) -> list[ReplayRecord]:
    """Re-check stored counterexamples and instance files.

    Parameters
    ----------
    paths : files or folders
        Counterexample files (``{"instance": ..., "theorem": ..., "claim": ...}``)
        are re-checked against their theorem; plain instance files against
        ``theorem_ids`` (every theorem when empty).
    theorems : list of Theorem
        The catalog to look theorem ids up in.
    max_bits : int
        Precision cap of the certified enclosure (hunts confirm at 1024 bits).
    options : CheckOptions, optional
        Overrides ``max_bits`` when given.

    Returns
    -------
    list of ReplayRecord
        One per (file, claim).

    Raises
    ------
    InvalidArgument
        If a path is missing, a file is malformed, or a theorem id is unknown.
    """
    options = options or CheckOptions(max_bits=max_bits)
    by_id = {theorem.id: theorem for theorem in theorems}
    unknown = [theorem_id for theorem_id in theorem_ids if theorem_id not in by_id]
    if unknown:
        raise InvalidArgument(f"unknown theorem id(s) {', '.join(unknown)}; run 'dmfverify list' to see the ids.")

    records = []
    for path in instance_paths(paths):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InvalidArgument(f"file {str(path)!r} is not a readable JSON file ({error}); fix or remove it.") from None
        instance = load_instance(path)

        stored: dict[str, tuple[str, float | None]] = {}
        if isinstance(data, dict) and "theorem" in data and "instance" in data:
            if data["theorem"] not in by_id:
                raise InvalidArgument(f"{path.name} was stored for theorem {data['theorem']!r}, which is not loaded; "
                                      f"pass its module with --theorems.")
            selected = [by_id[data["theorem"]]]
            stored = _stored_claims(data)
        else:
            selected = [by_id[theorem_id] for theorem_id in theorem_ids] if theorem_ids else list(theorems)

        for theorem in selected:
            for verdict in check(theorem, instance, options):
                stored_verdict, stored_margin = stored.get(verdict.claim, (None, None))
                records.append(ReplayRecord(path, theorem.id, verdict.claim, stored_verdict, stored_margin, verdict))
        logger.info("replayed %s", path)
    return records


def replay_expected(paths: Sequence[str | Path], *, bits: int = CERTIFIED_BITS) -> list[ExpectedComparison]:
    """Compare the ``expected`` block of every instance file with a fresh certified run.

    Step counts must be equal, and a real value matches when it lies within a
    relative :data:`~dmfverify.expected_values.RELATIVE_TOLERANCE` of its
    certified enclosure.  Files without an ``expected`` block, such as
    counterexample records, add nothing; a key without a fresh value is
    returned as ``"not compared"``.  Each file with step counts to compare
    costs one scalar run.

    Raises
    ------
    InvalidArgument
        If a path is missing or a file is not a valid instance.
    """
    comparisons = []
    for path in instance_paths(paths):
        comparisons += compare_expected(load_instance(path), path=path, bits=bits)
    return comparisons


# ----------------------------------------------------------------------- diff


@dataclass
class DiffRow:
    """One claim of one theorem on one instance, judged by the old and the new module (None where a claim is missing)."""

    instance: str
    theorem: str
    claim: str
    old: Verdict | None
    new: Verdict | None

    @property
    def changed(self) -> bool:
        """True when the verdicts differ (or the claim exists in one version only)."""
        if self.old is None or self.new is None:
            return True
        return self.old.verdict is not self.new.verdict

    @property
    def tighter(self) -> str | None:
        """``"old"``, ``"new"`` or ``"same"`` where both versions hold with numeric margins, else None."""
        if self.old is None or self.new is None:
            return None
        if self.old.verdict is not Outcome.HOLDS or self.new.verdict is not Outcome.HOLDS:
            return None
        if self.old.margin is None or self.new.margin is None:
            return None
        if not _margins_differ(self.old.margin, self.new.margin):
            return "same"
        return "new" if self.new.margin < self.old.margin else "old"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with both verdicts."""
        return {"instance": self.instance, "theorem": self.theorem, "claim": self.claim,
                "old": None if self.old is None else self.old.to_dict(), "new": None if self.new is None else self.new.to_dict(),
                "changed": self.changed, "tighter": self.tighter}


def _theorems_by_id(path: Path) -> dict[str, Theorem]:
    return {theorem.id: theorem for theorem in load_theorems(path)}


def diff_theorems(old_path: str | Path, new_path: str | Path, paths: Sequence[str | Path], *, theorem_ids: Sequence[str] = (),
                  options: CheckOptions | None = None, data_dir: str | Path | None = None) -> list[DiffRow]:
    """Check the theorems of two module files on the same instances and pair the verdicts.

    Theorems are matched by id; ids present in one file only are skipped with
    a log message.  Claims are matched by name.

    Raises
    ------
    InvalidArgument
        If the files share no theorem id, an id in ``theorem_ids`` is missing
        from either file, or an instance file is invalid.
    """
    old, new = _theorems_by_id(Path(old_path)), _theorems_by_id(Path(new_path))
    common = [theorem_id for theorem_id in new if theorem_id in old]
    for theorem_id in sorted(set(old) ^ set(new)):
        logger.info("theorem %s is in only one of the two files and is not compared", theorem_id)
    if theorem_ids:
        missing = [theorem_id for theorem_id in theorem_ids if theorem_id not in common]
        if missing:
            raise InvalidArgument(f"theorem id(s) {', '.join(missing)} are not defined in both {old_path} and {new_path}; "
                                  f"the common ids are {', '.join(common) or 'none'}.")
        common = list(theorem_ids)
    if not common:
        raise InvalidArgument(f"{old_path} and {new_path} define no theorem with the same id; give both versions the same id.")

    options = options or CheckOptions()
    instances: list[Instance] = [load_instance(path, data_dir=data_dir) for path in instance_paths(paths)]
    rows = []
    for instance in instances:
        for theorem_id in common:
            old_verdicts = {verdict.claim: verdict for verdict in check(old[theorem_id], instance, options)}
            new_verdicts = {verdict.claim: verdict for verdict in check(new[theorem_id], instance, options)}
            for claim in list(old_verdicts) + [name for name in new_verdicts if name not in old_verdicts]:
                rows.append(DiffRow(instance.id, theorem_id, claim, old_verdicts.get(claim), new_verdicts.get(claim)))
    return rows


# ------------------------------------------------------------------ rendering


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header] + rows)


def render_replay(records: list[ReplayRecord], format: str = "text", expected: Sequence[ExpectedComparison] | None = None) -> str:
    """Render replay records and expected-value comparisons as text or Markdown tables, or as JSON.

    The claims table shows the stored and current verdicts side by side.  When
    ``expected`` is non-empty a second table follows with one line per key of
    each file's ``expected`` block.  JSON is an object ``{"claims": [...],
    "expected": [...]}``, whose ``expected`` is null when the comparison was
    skipped (``expected=None``).
    """
    if format == "json":
        return json.dumps({"claims": [record.to_dict() for record in records],
                           "expected": None if expected is None else [item.to_dict() for item in expected]}, indent=1)
    markdown = format == "markdown"
    header = ["file", "theorem/claim", "stored", "stored margin", "now", "margin", "change"]
    rows = [[record.path.name, f"{record.theorem}/{record.claim}", record.stored_verdict or "-", _number(record.stored_margin),
             str(record.current.verdict), _number(record.current.margin), record.change()] for record in records]
    changed = sum(record.changed for record in records)
    text = _table(header, rows, markdown) + f"\n\n{len(records)} claims replayed, {changed} changed since stored."
    if not expected:
        return text

    table = [["-" if item.path is None else item.path.name, item.key, item.describe()] for item in expected]
    compared = [item for item in expected if item.status != NOT_COMPARED]
    counts = {status: sum(item.status == status for item in compared) for status in (MATCHING, DIFFERS, ERROR)}
    summary = (f"{len(compared)} expected keys compared: {counts[MATCHING]} matching, {counts[DIFFERS]} differ, "
               f"{len(compared) - sum(counts.values())} tied or undecided, {counts[ERROR]} failed.  "
               f"{len(expected) - len(compared)} not compared.\n{comparison_rule(expected[0].bits)}")
    return text + "\n\n" + _table(["file", "expected key", "result"], table, markdown) + "\n\n" + summary


def render_diff(rows: list[DiffRow], format: str = "text") -> str:
    """Render a diff: the side-by-side table, the changed verdicts and a tightness summary (or JSON)."""
    if format == "json":
        return json.dumps([row.to_dict() for row in rows], indent=1)

    def cells(verdict: Verdict | None) -> list[str]:
        if verdict is None:
            return ["(missing)", "-", "-"]
        return [str(verdict.verdict), _number(verdict.bound), _number(verdict.margin)]

    header = ["instance", "theorem/claim", "old", "old bound", "old margin", "new", "new bound", "new margin", "tighter"]
    table = [[row.instance, f"{row.theorem}/{row.claim}", *cells(row.old), *cells(row.new), row.tighter or "-"] for row in rows]
    markdown = format == "markdown"
    parts = [_table(header, table, markdown)]

    changed = [row for row in rows if row.changed]
    parts.append(f"Verdicts changed: {len(changed)}")
    parts += [f"  {row.instance} {row.theorem}/{row.claim}: {row.old.verdict if row.old else '(missing)'} -> "
              f"{row.new.verdict if row.new else '(missing)'}" for row in changed]

    tighter = [row.tighter for row in rows if row.tighter is not None]
    parts.append(f"Where both hold ({len(tighter)} claims): new tighter {tighter.count('new')}, old tighter {tighter.count('old')}, "
                 f"same {tighter.count('same')}")
    return "\n\n".join(parts)


def _code(outcomes: Iterable[Outcome]) -> int:
    outcomes = set(outcomes)
    if Outcome.ERROR in outcomes:
        return 2
    if Outcome.VIOLATED in outcomes:
        return 1
    return 0


def exit_code(records: list[ReplayRecord], expected: Iterable[ExpectedComparison] = ()) -> int:
    """Return 2 if a current verdict is ``ERROR`` or an expected value's run failed, 1 if a verdict is ``VIOLATED`` or an expected value differs, else 0."""
    statuses = {item.status for item in expected}
    code = _code(record.current.verdict for record in records)
    if ERROR in statuses:
        return 2
    if DIFFERS in statuses:
        return max(code, 1)
    return code


def diff_exit_code(rows: list[DiffRow]) -> int:
    """Return 2 if either version gives ``ERROR``, 1 if the new version gives ``VIOLATED``, else 0."""
    if any(row.old is not None and row.old.verdict is Outcome.ERROR for row in rows):
        return 2
    return _code(row.new.verdict for row in rows if row.new is not None)
