"""What every fault test shares: round counts, the capability check, killable server processes,
and reading a whole log back to compare it with what was acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from tests.conftest import IN_CI, free_port, start_server, stop_server

# scripts/chaos runs the tier with more rounds; a round is one kill or one restart.
ROUNDS = int(os.environ.get("ATS_CHAOS_ROUNDS", "3"))
FIRST_ULID = "0" * 26


def cannot(what: str) -> NoReturn:
    """This machine cannot stage the fault: skip, but under CI=true fail."""
    if IN_CI:
        pytest.fail(f"CI=true but this fault cannot be staged here: {what}")
    pytest.skip(what)


def need(ok: bool, what: str) -> None:
    if not ok:
        cannot(what)


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


async def check_creates(c: httpx.AsyncClient, acked: list[dict[str, Any]]) -> int:
    """Every acknowledged task is stored with its title and one ``task.created`` event; no title
    is stored twice (each request had its own). Returns how many tasks are stored."""
    tasks = await all_tasks(c)
    created = await event_log(c, event="task.created")
    titles = Counter(t["title"] for t in tasks)
    assert [t for t, n in titles.items() if n > 1] == [], "a task was stored twice"
    kept = {t["id"]: t["title"] for t in tasks}
    lost = [a for a in acked if kept.get(a["id"]) != a["title"]]
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged tasks lost"
    # one task.created event for each task there is, none for a task that is not
    assert Counter(e["task_id"] for e in created) == Counter(kept.keys())
    return len(tasks)
