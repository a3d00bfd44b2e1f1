"""Isolation for client-side tests: no real HOME, no ATS_* from the developer's shell."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ats.cli import session as session_module
from ats.cli.main import main
from ats.config import ENV_VARS

try:  # tests/ is not a package: pytest puts it on sys.path and tests/client is `client`
    from client.fake import FakeServer
except ImportError:  # pragma: no cover  (tests/ became a package)
    from tests.client.fake import FakeServer


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
    """Run the real entry point in-process: ``ats("claim", "5", "-f", "json")`` → Result."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    """A scripted server behind every client the CLI builds (no socket)."""
    server = FakeServer()
    real = session_module.AsyncClient

    class Scripted(real):  # type: ignore[valid-type, misc]  # a runtime subclass of the real client
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs, transport=server.transport())

    monkeypatch.setattr(session_module, "AsyncClient", Scripted)
    return server
