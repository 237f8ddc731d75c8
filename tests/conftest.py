"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference import SHARED_DATA


@pytest.fixture(scope="session")
def digits_dir() -> Path:
    """Folder holding digits.csv.gz; skips the test when neither it nor scikit-learn is available."""
    if (SHARED_DATA / "digits.csv.gz").exists():
        return SHARED_DATA
    pytest.importorskip("sklearn", reason="neither digits.csv.gz next to the repository nor scikit-learn is available")
    return None
