"""The requests whose latency must stay flat as history grows (SPEC §9.1), timed one at a time.

Each probe: a few warm-up requests, then ``samples`` requests back to back on one keep-alive
connection (the lean client of wire.py), each timed from write to last byte; p50 and p90 of
those. A probe stops early once it has spent ``budget`` seconds and has 5 samples (at 1M tasks a
scan can take a second or more per request). Every answer must be 2xx; list answers keep their
``count`` (and ``count_capped``, ``next`` when the server sends them).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from bench.common.measure import percentile
from bench.common.target import HOST
from bench.common.wire import Connection, connect
from bench.scale.fill import SEARCH, Filled

WARM = 3
PAGES = 100  # how deep the cursor probe walks
TAIL = "GET /events tail"
ACTOR = {"X-Actor-Type": "agent", "X-Actor-ID": "prober", "X-Actor-Name": "prober"}


@dataclass
class Probe:
    name: str
    method: str
    # Called before every request (samples may differ, e.g. another task id): path and body.
    request: Callable[[int], tuple[str, Any]]
    expect: int = 200


@dataclass
class Timing:
    name: str
    p50_ms: float | None = None
    p90_ms: float | None = None
    samples: int = 0
    count: int | None = None  # the list answer's "count"
    capped: bool | None = None  # its "count_capped", when the server sends it
    errors: list[str] = field(default_factory=list)
    note: str = ""


def probes(filled: Filled, latest: list[int]) -> list[Probe]:
    """The probes for this step; ``filled.mark`` and the ids come from the fill, ``latest[0]`` is
    the newest event id, read just before the tail probe."""
    rng = random.Random(filled.tasks)
    ids = [rng.choice(filled.ids) for _ in range(64)]
    alpha = filled.project_ids["alpha"]
    mark = filled.mark

    def get(path: str) -> Callable[[int], tuple[str, Any]]:
        return lambda _i: (path, None)

    filters = {
        "status=pending": "status=pending",
        "channel": "channel=ch-07",
        "type": "type=review",
        "assignee_id": "assignee_id=worker-1",
        "priority": "priority=5",
        "min+max_priority": "min_priority=3&max_priority=4",
        "project_id": f"project_id={alpha}",
        "created_after": f"created_after={mark}",
        "updated_after": f"updated_after={mark}",
    }
    out = [Probe(f"GET /tasks?{name}", "GET", get(f"/tasks?{q}")) for name, q in filters.items()]
    out += [
        # What `ats list` sends (src/ats/cli/tasks.py: status=pending, no limit → the server's 50).
        Probe("ats list (?status=pending)", "GET", get("/tasks?status=pending")),
        Probe(f"GET /tasks?search={SEARCH}", "GET", get(f"/tasks?search={quote(SEARCH)}")),
        Probe("GET /tasks/stats", "GET", get("/tasks/stats")),
        Probe("GET projects?counts=true", "GET", get("/orgs/default/projects?counts=true")),
        Probe("POST /tasks/claim (1)", "POST", lambda _i: ("/tasks/claim", {"limit": 1})),
        Probe("GET /tasks/{id}", "GET", lambda i: (f"/tasks/{ids[i % len(ids)]}", None)),
        Probe(
            "POST /tasks",
            "POST",
            lambda i: ("/tasks", {"title": f"probe {i}", "channel": "ch-00"}),
            expect=201,
        ),
        Probe("GET /events head", "GET", get("/events?since=0&limit=50")),
        Probe(TAIL, "GET", lambda _i: (f"/events?since={max(0, latest[0] - 50)}", None)),
        Probe("GET /tasks?offset=5000", "GET", get("/tasks?offset=5000")),
    ]
    return out


async def _send(conn: Connection, probe: Probe, i: int) -> tuple[float, int, bytes]:
    path, body = probe.request(i)
    raw = orjson.dumps(body) if body is not None else None
    t0 = time.perf_counter()
    status, answer = await conn.request(probe.method, path, raw)
    return (time.perf_counter() - t0) * 1000, status, answer


def _summary(timing: Timing, times: list[float]) -> Timing:
    times.sort()
    timing.samples = len(times)
    timing.p50_ms = percentile(times, 0.5)
    timing.p90_ms = percentile(times, 0.9)
    return timing


async def time_probe(port: int, probe: Probe, samples: int, budget: float) -> Timing:
    conn = await connect("lean", HOST, port, ACTOR)
    timing = Timing(probe.name)
    times: list[float] = []
    try:
        for i in range(WARM + samples):
            ms, status, answer = await _send(conn, probe, i)
            if status != probe.expect:
                timing.errors.append(f"{status} {answer[:200]!r}")
                if len(timing.errors) >= 3:
                    break
                continue
            if i == WARM and answer.startswith(b"{"):
                body = orjson.loads(answer)
                if "count" in body:
                    timing.count = int(body["count"])
                    timing.capped = body.get("count_capped")
            if i >= WARM:
                times.append(ms)
                if sum(times) / 1000 > budget and len(times) >= 5:
                    timing.note = f"stopped after {budget:.0f} s"
                    break
    finally:
        await conn.close()
    return _summary(timing, times)


async def latest_event(port: int) -> int:
    conn = await connect("lean", HOST, port)
    try:
        status, answer = await conn.request("GET", "/events/latest")
        return int(orjson.loads(answer)["id"]) if status == 200 else 0
    finally:
        await conn.close()


async def cursor_page(port: int, samples: int, budget: float) -> Timing:
    """``GET /tasks?cursor=…`` at page ``PAGES`` (walked once by following ``next``), when the
    server answers with ``next``; else a row with a note."""
    timing = Timing(f"GET /tasks?cursor= (page {PAGES})")
    conn = await connect("lean", HOST, port, ACTOR)
    try:
        path, page = "/tasks", 1
        while page < PAGES:
            status, answer = await conn.request("GET", path)
            if status != 200:
                timing.errors.append(f"page {page}: {status} {answer[:200]!r}")
                return timing
            cursor = orjson.loads(answer).get("next")
            if not cursor:
                timing.note = "no `next` in the answer" if page == 1 else f"ended at page {page}"
                return timing
            path, page = f"/tasks?cursor={quote(str(cursor))}", page + 1
    finally:
        await conn.close()
    return await time_probe(
        port, Probe(timing.name, "GET", lambda _i: (path, None)), samples, budget
    )


async def measure_step(port: int, filled: Filled, samples: int, budget: float) -> list[Timing]:
    latest = [0]
    out = []
    for probe in probes(filled, latest):
        if probe.name == TAIL:
            latest[0] = await latest_event(port)
        out.append(await time_probe(port, probe, samples, budget))
    out.append(await cursor_page(port, samples, budget))
    return out
