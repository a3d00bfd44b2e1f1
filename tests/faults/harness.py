"""What every fault test shares: round counts, the capability check, killable server processes,
and reading a whole log back to compare it with what was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI, free_port, start_server, stop_server

# scripts/chaos runs the tier with more rounds; a round is one kill or one restart.
ROUNDS = int(os.environ.get("ATS_CHAOS_ROUNDS", "3"))
FIRST_ULID = "0" * 26


def need(ok: bool, what: str) -> None:
    """Skip when this machine cannot stage the fault; under CI=true that is a failure."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true but this fault cannot be staged here: {what}")
    pytest.skip(what)


def per_round_timeout(seconds_per_round: float, base: float = 60) -> pytest.MarkDecorator:
    """A test timeout that grows with ATS_CHAOS_ROUNDS."""
    return pytest.mark.timeout(base + seconds_per_round * ROUNDS)


class Server:
    """One ``ats serve`` process on a fixed port, to kill and start again; stderr to a file."""

    def __init__(self, db_url: str, logs: Path, *extra: str) -> None:
        self.db_url = db_url
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logs / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.proc = start_server(self.db_url, *self.extra, port=self.port, log=self.log)
        return self

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop_server(self.proc)
            self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


async def event_log(c: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every task event in the log, in id order."""
    events: list[dict[str, Any]] = []
    since = 0
    while True:
        r = await c.get("/events", params={**params, "since": since, "limit": 1000})
        assert r.status_code == 200, r.text
        page = r.json()["events"]
        if not page:
            return events
        events += page
        since = page[-1]["id"]


async def feed_log(c: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every activity-feed event, in id order."""
    events: list[dict[str, Any]] = []
    since = FIRST_ULID
    while True:
        r = await c.get("/feed/events", params={"since": since, "limit": 1000})
        assert r.status_code == 200, r.text
        page = r.json()
        if not page:
            return events
        events += page
        since = page[-1]["id"]


async def all_tasks(c: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every task (matching ``params``), oldest first, page by page (nothing writes meanwhile)."""
    tasks: list[dict[str, Any]] = []
    while True:
        query = {**params, "sort_dir": "asc", "limit": 1000, "offset": len(tasks)}
        r = await c.get("/tasks", params=query)
        assert r.status_code == 200, r.text
        page = r.json()["tasks"]
        tasks += page
        if len(page) < 1000:
            return tasks
