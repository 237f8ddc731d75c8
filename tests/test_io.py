"""Tests of the atomic file writes used for counterexamples, reports and summaries."""

from __future__ import annotations

import os
import stat

from dmfverify.io import atomic_write_text


def test_write_replaces_by_default(tmp_path):
    path = tmp_path / "record.json"

    assert atomic_write_text(path, "old")
    assert atomic_write_text(path, "new")
    assert path.read_text() == "new"


def test_write_without_overwrite_keeps_file(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("first")

    assert not atomic_write_text(path, "second", overwrite=False)
    assert path.read_text() == "first"


def test_write_without_overwrite_creates_file(tmp_path):
    path = tmp_path / "sub" / "record.json"

    assert atomic_write_text(path, "text", overwrite=False)
    assert path.read_text() == "text"


def test_write_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "record.json"
    atomic_write_text(path, "a")
    atomic_write_text(path, "b", overwrite=False)
    atomic_write_text(path, "c")

    assert [entry.name for entry in tmp_path.iterdir()] == ["record.json"]


def test_written_file_follows_umask(tmp_path):
    path = tmp_path / "record.json"
    mask = os.umask(0o022)
    try:
        atomic_write_text(path, "text")
    finally:
        os.umask(mask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o644
