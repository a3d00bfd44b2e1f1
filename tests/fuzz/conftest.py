"""Fixtures of the fuzz tier: one real server per backend, a request tally, the closing summary.

Hypothesis' state (a unicode table cache, even without an example database) goes under the
system temp dir, never into the repository.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from tests.conftest import _TEMPLATE, BACKENDS, IN_CI, _pg_url, running_server
from tests.fuzz.settings import EXAMPLES, SEED, Tally

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "ats-fuzz-hypothesis")


def _fresh_pg() -> str:
    """A database cloned from the session's migrated template (the name, to drop it after)."""
    asyncio.run(_TEMPLATE.ensure())
    if _TEMPLATE.error:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL tests cannot run: {_TEMPLATE.error}")
        pytest.skip(_TEMPLATE.error)
    return asyncio.run(_TEMPLATE.clone())


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One ``ats serve`` on a fresh database per backend, shared by that backend's operations."""
    if request.param == "sqlite":
        db = tmp_path_factory.mktemp("fuzz") / "ats.db"
        with running_server(f"sqlite:///{db}", "--reaper-interval", "0.2") as url:
            yield url
        return
    name = _fresh_pg()
    try:
        with running_server(_pg_url(name), "--reaper-interval", "0.2") as url:
            yield url
    finally:
        asyncio.run(_TEMPLATE.drop(name))


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    t = Tally(request.node.callspec.params["fuzz_server"])
    yield t
    # Reports carry user properties to the xdist controller, which prints the summary.
    request.node.user_properties.append(("fuzz", json.dumps(t.as_json())))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # ``tests.conftest`` imported by name is a second copy of the root conftest (tests/ is no
    # package; pytest loaded the root one as ``conftest``), with a template of its own that the
    # root's sessionfinish does not know: drop it here, or every run leaves it behind.
    if _TEMPLATE.ready:
        asyncio.run(_TEMPLATE.drop(_TEMPLATE.name))


_TALLIES: dict[str, Tally] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == "fuzz":
            one = Tally.from_json(json.loads(str(value)))
            _TALLIES.setdefault(one.backend, Tally(one.backend)).merge(one)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TALLIES:
        return
    terminalreporter.write_sep("-", f"fuzz: seed {SEED}, {EXAMPLES} examples per operation")
    for backend in sorted(_TALLIES):
        terminalreporter.write_line(_TALLIES[backend].line())
