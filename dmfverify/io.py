"""File helpers: atomic writes, so an interrupted run never leaves a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text"]


def atomic_write_text(path: Path, text: str, *, overwrite: bool = True) -> bool:
    """Write ``text`` to ``path`` atomically.

    The text goes to a temporary file in the same folder, is flushed and synced,
    and then replaces ``path`` with :func:`os.replace`, which is atomic on POSIX
    and Windows.  A reader sees the old file or the new one, never a mix, even
    if the process is killed mid-write.

    With ``overwrite=False`` an existing ``path`` is left as it is: the
    temporary file is hard-linked to ``path``, which fails if ``path`` exists,
    so two processes writing the same name cannot both succeed.  On a file
    system without hard links the existence test and the replacement are two
    steps, and a race between them can still replace the file.

    Returns
    -------
    bool
        True if ``path`` now contains ``text``, False if it existed and was kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and path.exists():
        return False

    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

        if overwrite:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError:
            # NOTE: no hard links here, so the existence test above is all that guards the name.
            os.replace(temporary, path)
            return True
        return True
    finally:
        Path(temporary).unlink(missing_ok=True)


def _umask() -> int:
    """Return the process's file-creation mask (reading it requires setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
