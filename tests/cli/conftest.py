"""Isolation for client-side tests: no real HOME, no ATS_* from the developer's shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ats.cli import session as session_module
from tests.support import Ats, in_process, isolate

try:  # tests/ is not a package: pytest puts it on sys.path and tests/client is `client`
    from client.fake import FakeServer
except ImportError:  # pragma: no cover  (tests/ became a package)
    from tests.client.fake import FakeServer


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real HOME, no ATS_* from the developer's shell."""
    return isolate(tmp_path, monkeypatch)


@pytest.fixture
def ats(capsys: pytest.CaptureFixture[str]) -> Ats:
    """Run the real entry point in-process: ``ats("claim", "5", "-f", "json")`` → Result."""
    return in_process(capsys)


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
