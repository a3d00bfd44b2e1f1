"""Isolation for dispatcher tests: no real HOME, no ATS_* from the developer's shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ats.config import ENV_VARS


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(work)
    yield work
