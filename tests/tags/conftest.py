"""Isolation for the tag tests: every test runs in its own empty tree, with no real HOME and no
ATS_* from the developer's shell; ``ats`` runs the real CLI in-process, ``ats_process`` as a
separate ``python -m ats`` process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import Ats, Result, in_process, isolate


@pytest.fixture(autouse=True)
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory: an empty tree the edits are allowed to touch."""
    return isolate(tmp_path, monkeypatch)


@pytest.fixture
def ats(capsys: pytest.CaptureFixture[str]) -> Ats:
    """Run the real entry point in-process: ``ats("tag", "find", "#x")`` → Result."""
    return in_process(capsys)


def ats_command(*argv: str) -> list[str]:
    """The argv of a real ``ats`` process (the interpreter running the tests)."""
    return [sys.executable, "-m", "ats", *argv]


@pytest.fixture
def ats_process(tree: Path) -> Ats:
    """Run ``python -m ats`` as its own process in the tree."""

    def run(*argv: str) -> Result:
        done = subprocess.run(
            ats_command(*argv), cwd=tree, capture_output=True, text=True, timeout=60
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run
