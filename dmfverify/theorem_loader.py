"""Loading theorem catalogs: the built-in one and users' own modules.

A theorem module is a Python file that defines :class:`~dmfverify.theorem.Theorem`
objects at module level (optionally listed in a ``THEOREMS`` tuple, which then
fixes their order).  :func:`load_theorems` imports such files from a path, so a
user adds theorems without touching the package.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from dmfverify.errors import InvalidArgument, InvalidTheorem
from dmfverify.theorem import Theorem

__all__ = ["builtin_theorems", "load_theorems", "theorems_in_module", "select"]

_BUILTIN_FAMILIES = ("lemmas", "hitting_times", "noiseless_phase", "perturbed", "persistence", "convergence", "conjectures")


def theorems_in_module(module: ModuleType) -> list[Theorem]:
    """Return the theorems a module defines (its ``THEOREMS`` tuple, else every module-level Theorem)."""
    listed = getattr(module, "THEOREMS", None)
    if listed is not None:
        found = list(listed)
    else:
        found = [value for value in vars(module).values() if isinstance(value, Theorem)]
    for theorem in found:
        if not isinstance(theorem, Theorem):
            raise InvalidTheorem(f"{module.__name__}.THEOREMS holds {theorem!r}, which is not a Theorem.")
    return found


def builtin_theorems() -> list[Theorem]:
    """Return the built-in catalog, family by family."""
    theorems = []
    for family in _BUILTIN_FAMILIES:
        try:
            module = importlib.import_module(f"dmfverify.catalog.{family}")
        except ModuleNotFoundError as error:
            if error.name == f"dmfverify.catalog.{family}":
                continue
            raise
        theorems.extend(theorems_in_module(module))
    return theorems


def load_theorems(path: str | Path) -> list[Theorem]:
    """Import theorem modules from a ``.py`` file or every ``.py`` file of a folder.

    Raises
    ------
    InvalidArgument
        If the path does not exist or holds no theorem.
    InvalidTheorem
        If a module fails to import; the message names the file and the error.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidArgument(f"theorem path {str(path)!r} was not found; pass a .py file or a folder of them.")
    files = sorted(path.glob("*.py")) if path.is_dir() else [path]
    theorems = []
    for file in files:
        if file.name.startswith("_"):
            continue
        name = f"dmfverify_user_theorems_{abs(hash(str(file.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise InvalidArgument(f"theorem file {str(file)!r} cannot be imported; give it a .py suffix.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except InvalidTheorem:
            raise
        except Exception as error:
            raise InvalidTheorem(f"theorem file {str(file)!r} failed to import: {type(error).__name__}: {error}") from error
        theorems.extend(theorems_in_module(module))
    if not theorems:
        raise InvalidArgument(f"no Theorem objects found in {str(path)!r}; define them at module level or list them in THEOREMS.")
    return theorems


def select(theorems: list[Theorem], ids: list[str] | None) -> list[Theorem]:
    """Return the theorems whose id is in ``ids`` (all when ``ids`` is empty)."""
    if not ids:
        return theorems
    by_id = {theorem.id: theorem for theorem in theorems}
    unknown = [theorem_id for theorem_id in ids if theorem_id not in by_id]
    if unknown:
        raise InvalidArgument(f"unknown theorem id(s) {', '.join(unknown)}; run 'dmfverify list' to see the ids ({', '.join(by_id)}).")
    return [by_id[theorem_id] for theorem_id in ids]
