"""Isolation for dispatcher tests: no real HOME, no ATS_* from the developer's shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import isolate


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real HOME, no ATS_* from the developer's shell."""
    return isolate(tmp_path, monkeypatch)
