"""What several test folders share: a clean HOME and working directory, and the real ``ats``
entry point run in-process."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ats.cli.main import main


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME and working directory, and no ATS_* from the developer's shell; returns the
    working directory."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in [v for v in os.environ if v.startswith("ATS_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(work)
    return work


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Ats = Callable[..., Result]


def in_process(capsys: pytest.CaptureFixture[str]) -> Ats:
    """``ats("claim", "5", "-f", "json")`` → Result, through the real entry point."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
