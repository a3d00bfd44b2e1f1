"""Isolation for the tag tests: every test runs in its own empty tree, with no real HOME and no
ATS_* from the developer's shell; ``ats`` runs the real CLI in-process, ``ats_process`` as a
separate ``python -m ats`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ats.cli.main import main


@pytest.fixture(autouse=True)
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The current directory: an empty tree the edits are allowed to touch."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in [v for v in os.environ if v.startswith("ATS_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(work)
    yield work


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Ats = Callable[..., Result]


@pytest.fixture
def ats(capsys: pytest.CaptureFixture[str]) -> Ats:
    """Run the real entry point in-process: ``ats("tag", "find", "#x")`` → Result."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


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
