"""Filling a real ``ats serve`` over HTTP to a given number of tasks, and what the tables weigh.

Tasks go in through ``POST /orgs/default/projects/{p}/tasks/bulk`` (1,000 a request, 4
connections), spread over 50 channels, 5 types, priorities 1-10 and 4 projects; a quarter carry a
description. Then a third of the new tasks are claimed (``POST /tasks/claim`` limit 100, 4
workers, each its own ``X-Actor-ID`` = the assignee) and completed (``POST /tasks/complete``).
The last 1,000 tasks of a step go in alone after ``mark`` is taken, so ``created_after=mark`` and
``updated_after=mark`` select about 1,000 tasks at every size.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench.common.target import HOST
from bench.common.wire import Connection, connect

CHANNELS = [f"ch-{i:02d}" for i in range(50)]
TYPES = ["build", "review", "deploy", "research", "triage"]
PROJECTS = ["main", "alpha", "beta", "gamma"]
WORKERS = [f"worker-{i}" for i in range(4)]
# Title words; the search probe looks for one of them (about 1 title in len(WORDS)).
WORDS = ["amber", "basalt", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
         "juniper", "kelp", "lumen", "mesa", "nickel", "onyx", "pumice", "quartz", "rust",
         "sable", "tundra"]  # fmt: skip
SEARCH = "quartz"
BULK = 1000
CONNECTIONS = 4
CLAIM = 100


class FillError(RuntimeError):
    pass


@dataclass
class Filled:
    """What the database holds after a step, as this program put it there."""

    tasks: int = 0
    completed: int = 0
    project_ids: dict[str, int] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)  # every task id the bulk answered
    mark: int = 0  # epoch ms taken before the step's last bulk request
    seconds: dict[str, float] = field(default_factory=dict)


async def _call(conn: Connection, method: str, path: str, body: Any, expect: int) -> Any:
    status, raw = await conn.request(method, path, orjson.dumps(body) if body is not None else None)
    if status != expect:
        raise FillError(f"{method} {path}: {status} {raw[:300]!r}")
    return orjson.loads(raw)


async def projects(port: int) -> dict[str, int]:
    """The bench's projects in org ``default`` (``main`` exists), created when missing."""
    conn = await connect("lean", HOST, port)
    try:
        listed = await _call(conn, "GET", "/orgs/default/projects", None, 200)
        have = {p["slug"]: p for p in listed["projects"]}
        for slug in PROJECTS:
            if slug not in have:
                body = {"slug": slug, "name": slug.title()}
                created = await _call(conn, "POST", "/orgs/default/projects", body, 201)
                have[slug] = created["project"]
        return {slug: int(have[slug]["id"]) for slug in PROJECTS}
    finally:
        await conn.close()


def _task(rng: random.Random, i: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)} task {i}",
        "channel": CHANNELS[i % len(CHANNELS)],
        "type": TYPES[(i // len(CHANNELS)) % len(TYPES)],
        "priority": rng.randint(1, 10),
    }
    if i % 4 == 0:
        body["description"] = (
            f"{rng.choice(WORDS)} notes for item {i}: check the {rng.choice(WORDS)}"
        )
    return body


async def _bulk(port: int, batches: asyncio.Queue[tuple[int, int]], seed: int,
                ids: list[int]) -> None:  # fmt: skip
    conn = await connect("lean", HOST, port)
    try:
        while not batches.empty():
            start, end = batches.get_nowait()  # built here: 1M task bodies at once take GBs
            rng = random.Random(seed * 1_000_003 + start)
            tasks = [_task(rng, i) for i in range(start, end)]
            project = PROJECTS[(start // BULK) % len(PROJECTS)]
            path = f"/orgs/default/projects/{project}/tasks/bulk"
            answer = await _call(conn, "POST", path, {"tasks": tasks}, 201)
            ids.extend(t["id"] for t in answer["tasks"])
    finally:
        await conn.close()


async def _create(port: int, first: int, count: int, seed: int, ids: list[int]) -> None:
    batches: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for start in range(first, first + count, BULK):
        batches.put_nowait((start, min(start + BULK, first + count)))
    await asyncio.gather(*(_bulk(port, batches, seed, ids) for _ in range(CONNECTIONS)))


async def _drain(port: int, actor: str, left: list[int]) -> None:
    """Claim up to ``CLAIM`` and complete them, until ``left[0]`` tasks are done (shared)."""
    conn = await connect("lean", HOST, port, {"X-Actor-Type": "agent", "X-Actor-ID": actor,
                                              "X-Actor-Name": actor})  # fmt: skip
    try:
        while left[0] > 0:
            want = min(CLAIM, left[0])
            left[0] -= want
            claimed = await _call(conn, "POST", "/tasks/claim", {"limit": want}, 200)
            tasks = claimed["tasks"]
            if not tasks:
                raise FillError("claim answered no task while pending ones remain")
            items = [{"id": t["id"], "lease_token": t["lease_token"]} for t in tasks]
            done = await _call(conn, "POST", "/tasks/complete", {"tasks": items}, 200)
            if done.get("errors"):
                raise FillError(f"complete refused: {done['errors'][:3]}")
            left[0] += want - len(tasks)
    finally:
        await conn.close()


async def fill_to(port: int, filled: Filled, size: int) -> None:
    """Add tasks until ``size`` (bulk), complete a third of the new ones, stamp ``mark``."""
    new = size - filled.tasks
    if new < BULK:
        raise FillError(f"step to {size:,}: fewer than {BULK} new tasks")
    if not filled.project_ids:
        filled.project_ids = await projects(port)
    t0 = time.perf_counter()
    await _create(port, filled.tasks, new - BULK, seed=size, ids=filled.ids)
    filled.seconds["bulk"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    left = [(size // 3) - filled.completed]
    await asyncio.gather(*(_drain(port, w, left) for w in WORKERS))
    filled.completed = size // 3
    filled.seconds["claim_complete"] = time.perf_counter() - t0
    await asyncio.sleep(0.05)
    filled.mark = int(time.time() * 1000)
    await asyncio.sleep(0.05)
    await _create(port, size - BULK, BULK, seed=size + 1, ids=filled.ids)
    filled.tasks = size


async def table_bytes(url: str) -> dict[str, int]:
    """Bytes of the tasks and events tables, indexes included."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        return await asyncio.to_thread(_sqlite_bytes, path)
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT pg_total_relation_size('tasks') AS tasks,"
            " pg_total_relation_size('events') AS events,"
            " pg_database_size(current_database()) AS database"
        )
        return {k: int(v) for k, v in dict(row).items()}
    finally:
        await conn.close()


def _sqlite_bytes(path: str) -> dict[str, int]:
    files = sum(p.stat().st_size for p in Path(path).parent.glob(Path(path).name + "*"))
    out = {"database": files}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for table in ("tasks", "events"):
            (total,) = db.execute(
                "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN"
                " (SELECT name FROM sqlite_master WHERE tbl_name = ?)",
                (table,),
            ).fetchone()
            out[table] = int(total)
    except sqlite3.OperationalError:  # no dbstat in this build: the file is all we know
        pass
    finally:
        db.close()
    return out
