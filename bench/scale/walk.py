"""A cursor walk over the whole table while tasks keep being created (SPEC §9.1).

Follows ``next`` from ``GET /tasks?limit=1000`` (newest first, the default order) to the end,
while a writer on its own connection creates tasks one ``POST /tasks`` at a time. Every task that
existed when the walk began must be visited exactly once; tasks created meanwhile sort before the
walk's position (newer), so they are not owed, and none may be visited twice either.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

import orjson

from bench.common.target import HOST
from bench.common.wire import connect

PAGE = 1000
ACTOR = {"X-Actor-Type": "agent", "X-Actor-ID": "bench-walker"}


@dataclass
class Walk:
    pages: int = 0
    visited: int = 0
    seconds: float = 0.0
    created_meanwhile: int = 0
    missing: int = 0  # tasks present at the start and never visited
    twice: int = 0  # tasks visited more than once
    page_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.twice or self.errors)

    def line(self) -> str:
        times = sorted(self.page_ms) or [0.0]
        return (
            f"cursor walk: {self.visited:,} tasks in {self.pages:,} pages of {PAGE} in "
            f"{self.seconds:.0f} s (page p50 {times[len(times) // 2]:.1f} ms, "
            f"max {times[-1]:.1f} ms), {self.created_meanwhile:,} created meanwhile; "
            f"missing {self.missing}, twice {self.twice}"
            + (f"; errors {self.errors[:3]}" if self.errors else "")
        )


async def _writer(port: int, stop: asyncio.Event, walk: Walk) -> None:
    conn = await connect("lean", HOST, port, ACTOR)
    try:
        while not stop.is_set():
            body = orjson.dumps({"title": f"meanwhile {walk.created_meanwhile}"})
            status, answer = await conn.request("POST", "/tasks", body)
            if status != 201:
                walk.errors.append(f"create: {status} {answer[:200]!r}")
                return
            walk.created_meanwhile += 1
            await asyncio.sleep(0.005)
    finally:
        await conn.close()


async def walk_all(port: int, existing: set[int]) -> Walk:
    """Walk every page; ``existing`` are the ids the table held before the walk began."""
    walk, seen = Walk(), Counter[int]()
    stop = asyncio.Event()
    writer = asyncio.create_task(_writer(port, stop, walk))
    conn = await connect("lean", HOST, port, ACTOR)
    started = time.perf_counter()
    try:
        path: str | None = f"/tasks?limit={PAGE}"
        while path is not None:
            t0 = time.perf_counter()
            status, answer = await conn.request("GET", path)
            walk.page_ms.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                walk.errors.append(f"page {walk.pages + 1}: {status} {answer[:200]!r}")
                break
            doc = orjson.loads(answer)
            seen.update(t["id"] for t in doc["tasks"])
            walk.pages += 1
            cursor = doc.get("next")
            path = f"/tasks?limit={PAGE}&cursor={quote(str(cursor))}" if cursor else None
    finally:
        walk.seconds = time.perf_counter() - started
        stop.set()
        await writer
        await conn.close()
    walk.visited = len(seen)
    walk.missing = len(existing - seen.keys())
    walk.twice = sum(1 for n in seen.values() if n > 1)
    return walk
