"""Locations of the reference instances: the project's shared folder when it exists, else the copies in the package."""

from __future__ import annotations

import json
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = REPOSITORY.parent / "shared"
SHARED_CASES = SHARED / "cases"
SHARED_DATA = SHARED / "data"
BUILTIN_CASES = REPOSITORY / "dmfverify" / "data" / "cases"


def reference_case_paths() -> list[Path]:
    """Return the reference instance files: the shared folder's, else the copies shipped with the package.

    Only files with an ``expected`` block count: the package also ships library
    instances that have no independently computed values to compare with.
    """
    folder = SHARED_CASES if SHARED_CASES.is_dir() else BUILTIN_CASES
    return sorted(path for path in folder.glob("*.json") if "expected" in json.loads(path.read_text()))


def read_case(path: Path) -> dict:
    return json.loads(path.read_text())


