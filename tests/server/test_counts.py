"""Counts without scans (SPEC §9.1): every count the API reports equals count(*) on the database.

Stats, project counts and ``exact_count`` are served by counters that triggers keep in the same
transaction as every write to ``tasks`` (a delta ledger folded in the background on PostgreSQL).
Here a mixed workload runs through every write path, then each reported count is compared with a
``count(*)`` made directly on the database — before and after a fold.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sqlite3
import time
from typing import Any

import asyncpg
import httpx
import pytest

from ats.models import Status
from ats.store import Store, open_store
from ats.store.base import TaskQuery

AGENT = {"X-Actor-Type": "agent", "X-Actor-ID": "counter"}
SCOPED = "/orgs/acme/projects/web"
HOUR_MS = 3_600_000
LEASE_MS = 1000


class Direct:
    """Queries made directly on the database, around the server and its store."""

    def __init__(self, db_url: str) -> None:
        self.url = db_url
        self.sqlite: sqlite3.Connection | None = None
        self.pg: asyncpg.Connection | None = None

    async def __aenter__(self) -> Direct:
        if self.url.startswith("sqlite"):
            self.sqlite = sqlite3.connect(self.url.removeprefix("sqlite:///"))
        else:
            self.pg = await asyncpg.connect(self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.pg is not None:
            await self.pg.close()

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.sqlite is not None:
            return [tuple(r) for r in self.sqlite.execute(sql)]
        assert self.pg is not None
        return [tuple(r) for r in await self.pg.fetch(sql)]

    async def count(self, where: str) -> int:
        return int((await self.rows(f"SELECT count(*) FROM tasks WHERE {where}"))[0][0])


async def project_ids(db: Direct) -> dict[str, int]:
    rows = await db.rows(
        "SELECT o.slug, p.slug, p.id FROM projects p JOIN orgs o ON o.id = p.org_id"
    )
    return {f"{o}/{p}": int(i) for o, p, i in rows}


async def check_stats(client: httpx.AsyncClient, db: Direct, prefix: str, pid: int | None) -> None:
    scope = "TRUE" if pid is None else f"project_id = {pid}"
    h24 = (int(time.time() * 1000) - 24 * HOUR_MS) // HOUR_MS * HOUR_MS
    h7d = (int(time.time() * 1000) - 7 * 24 * HOUR_MS) // HOUR_MS * HOUR_MS
    stats = (await client.get(f"{prefix}/tasks/stats")).json()["stats"]
    assert stats["total"] == await db.count(scope)
    for s in Status:
        assert stats["by_status"][s.value] == await db.count(f"{scope} AND status = '{s.value}'"), s
    by_channel = await db.rows(
        f"SELECT channel, count(*) FROM tasks WHERE {scope} GROUP BY channel"
    )
    assert stats["by_channel"] == {c: int(n) for c, n in sorted(by_channel)}
    assert list(stats["by_channel"]) == sorted(stats["by_channel"])
    done = f"{scope} AND status = 'completed'"
    assert stats["completed_count"] == await db.count(done)
    avg = await db.rows(f"SELECT avg(completed_at - created_at) FROM tasks WHERE {done}")
    if avg[0][0] is None:
        assert stats["avg_completion_seconds"] is None
    else:
        assert abs(stats["avg_completion_seconds"] - float(avg[0][0]) / 1000) < 0.0015
    assert stats["recent"] == {
        "created_24h": await db.count(f"{scope} AND created_at >= {h24}"),
        "completed_24h": await db.count(f"{done} AND completed_at >= {h24}"),
        "created_7d": await db.count(f"{scope} AND created_at >= {h7d}"),
        "completed_7d": await db.count(f"{done} AND completed_at >= {h7d}"),
    }


async def check_exact_counts(store: Store, db: Direct, pids: list[int | None]) -> None:
    channels = [r[0] for r in await db.rows("SELECT DISTINCT channel FROM tasks")]
    types = [r[0] for r in await db.rows("SELECT DISTINCT type FROM tasks")]
    status_sets: list[tuple[Status, ...]] = [
        (),
        *((s,) for s in Status),
        (Status.PENDING, Status.IN_PROGRESS),
        (Status.COMPLETED, Status.FAILED, Status.CANCELLED),
    ]
    facets: list[tuple[str | None, str | None]] = [(None, None), ("nowhere", None)]
    facets += [(c, None) for c in channels] + [(None, t) for t in types]
    for pid, statuses, (channel, type_) in itertools.product(pids, status_sets, facets):
        where = ["TRUE"]
        if pid is not None:
            where.append(f"project_id = {pid}")
        if statuses:
            where.append("status IN ({})".format(", ".join(f"'{s.value}'" for s in statuses)))
        if channel is not None:
            where.append(f"channel = '{channel}'")
        if type_ is not None:
            where.append(f"type = '{type_}'")
        q = TaskQuery(project_id=pid, statuses=statuses, channel=channel, type=type_)
        assert await store.tasks.exact_count(q) == await db.count(" AND ".join(where)), q
    # A filter the counters do not cover: no answer rather than a wrong one.
    assert await store.tasks.exact_count(TaskQuery(assignee_id="counter")) is None
    assert await store.tasks.exact_count(TaskQuery(search="x")) is None


async def check_everything(client: httpx.AsyncClient, db_url: str) -> None:
    async with Direct(db_url) as db:
        ids = await project_ids(db)
        await check_stats(client, db, "", None)
        await check_stats(client, db, SCOPED, ids["acme/web"])
        await check_stats(client, db, "/orgs/default/projects/main", ids["default/main"])
        for org in ("default", "acme"):
            listed = (await client.get(f"/orgs/{org}/projects", params={"counts": "true"})).json()
            for p in listed["projects"]:
                pid = ids[org + "/" + p["slug"]]
                where = f"project_id = {pid}"
                assert p["total_count"] == await db.count(where)
                assert p["pending_count"] == await db.count(f"{where} AND status = 'pending'")
                assert p["in_progress_count"] == await db.count(
                    f"{where} AND status = 'in_progress'"
                )
        store = await open_store(db_url, pool_size=2)
        try:
            await check_exact_counts(store, db, [None, *ids.values()])
            # Exact before and after the ledger is folded into the totals (a no-op on SQLite).
            await store.upkeep.fold_counts()
            await check_exact_counts(store, db, [None, *ids.values()])
        finally:
            await store.close()
        await check_stats(client, db, "", None)


async def post(client: httpx.AsyncClient, path: str, body: object = None) -> Any:
    r = await client.post(path, json=body if body is not None else {}, headers=AGENT)
    assert r.status_code in (200, 201), (path, r.status_code, r.text)
    return r.json()


async def test_every_count_equals_count_star_after_a_mixed_workload(
    client: httpx.AsyncClient, db_url: str
) -> None:
    await post(client, "/orgs", {"slug": "acme", "name": "Acme"})
    await post(client, "/orgs/acme/projects", {"slug": "web", "name": "Web"})
    for i in range(12):
        body = {"title": f"t{i}", "channel": f"c{i % 3}", "type": f"k{i % 2}"}
        await post(client, "/tasks", body)
        await post(client, f"{SCOPED}/tasks", {"title": f"s{i}", "channel": f"c{i % 2}"})
    bulk = [{"title": f"b{i}", "channel": f"c{i % 4}", "type": "bulk"} for i in range(30)]
    await post(client, "/tasks/bulk", {"tasks": bulk})
    await post(client, f"{SCOPED}/tasks/bulk", {"tasks": bulk[:10]})
    await check_everything(client, db_url)

    # claim-next, then every settlement of a claimed task
    claimed = (await post(client, "/tasks/claim", {"limit": 12}))["tasks"]
    c = iter(claimed)
    for t in itertools.islice(c, 4):
        await post(client, f"/tasks/{t['id']}/complete", {"outputs": {"ok": True}})
    for t in itertools.islice(c, 2):
        await post(client, f"/tasks/{t['id']}/fail", {"reason": "boom"})
    await post(client, f"/tasks/{next(c)['id']}/reject", {"reason": "no"})
    await post(client, f"/tasks/{next(c)['id']}/release", {})
    batch = [{"id": t["id"], "lease_token": t["lease_token"]} for t in c]
    assert (await post(client, "/tasks/complete", {"tasks": batch}))["errors"] == []
    await post(client, f"/tasks/{claimed[0]['id']}/reopen", {"reason": "again"})
    await post(client, f"/tasks/{claimed[4]['id']}/reopen", {"reason": "again"})
    scoped_claim = await post(client, f"{SCOPED}/tasks/claim", {"limit": 3, "channel": "c1"})
    for t in scoped_claim["tasks"]:
        await post(client, f"{SCOPED}/tasks/{t['id']}/complete")
    fresh = [(await post(client, "/tasks", {"title": "f", "channel": f"f{i % 2}"}))["id"]
             for i in range(7)]  # fmt: skip
    await post(client, f"/tasks/{fresh.pop()}/claim")
    await post(client, f"/tasks/{fresh.pop()}/cancel")
    await check_everything(client, db_url)

    # PATCH of status, channel and type; deletes (a completed one too)
    for body in ({"status": "completed"}, {"channel": "moved"}, {"type": "retyped"},
                 {"status": "cancelled", "channel": "c9", "type": "k9"}):  # fmt: skip
        r = await client.patch(f"/tasks/{fresh.pop()}", json=body, headers=AGENT)
        assert r.status_code == 200, r.text
    for tid in (fresh.pop(), claimed[1]["id"], claimed[10]["id"]):
        assert (await client.delete(f"/tasks/{tid}", headers=AGENT)).status_code == 200

    # cascading dependency failures, and a dependent created after its dependency failed
    root = (await post(client, "/tasks", {"title": "root", "channel": "dep"}))["id"]
    child = (await post(client, "/tasks", {"title": "c", "depends_on": [root]}))["id"]
    await post(client, "/tasks", {"title": "g", "type": "deep", "depends_on": [child]})
    await post(client, f"/tasks/{root}/fail", {"reason": "root cause"})
    await post(client, "/tasks", {"title": "late", "depends_on": [root]})

    # leases that expire: back to pending, and failed once out of attempts (the reaper)
    again = (await post(client, "/tasks", {"title": "again", "channel": "lease"}))["id"]
    last = (await post(client, "/tasks", {"title": "last", "max_attempts": 1}))["id"]
    await post(client, f"/tasks/{again}/claim", {"lease_duration": 50})
    await post(client, f"/tasks/{last}/claim", {"lease_duration": 50})
    for _ in range(100):
        await asyncio.sleep(0.05)
        a, b = [(await client.get(f"/tasks/{t}")).json()["status"] for t in (again, last)]
        if (a, b) == ("pending", "failed"):
            break
    assert (a, b) == ("pending", "failed")
    await check_everything(client, db_url)


# --- concurrency: 16 workers against a real server -------------------------------------------


async def _worker(base: str, n: int, stop: float, counts: dict[str, int]) -> None:
    rnd = random.Random(n)
    headers = {"X-Actor-Type": "agent", "X-Actor-ID": f"w{n}"}
    prefix = SCOPED if n % 4 == 0 else ""  # a quarter of the workers in the second project
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as c:
        while time.monotonic() < stop:
            roll = rnd.random()
            if roll < 0.15:
                size = rnd.randrange(1, 20)
                tasks = [
                    {"title": "x", "channel": f"c{rnd.randrange(3)}", "type": f"k{i % 2}"}
                    for i in range(size)
                ]
                r = await c.post(f"{prefix}/tasks/bulk", json={"tasks": tasks})
                assert r.status_code == 201, r.text
                continue
            r = await c.post(
                f"{prefix}/tasks/claim",
                json={"limit": rnd.choice((1, 5)), "lease_duration": LEASE_MS},
            )
            assert r.status_code == 200, r.text
            for t in r.json()["tasks"]:
                pick = rnd.random()
                path = f"{prefix}/tasks/{t['id']}"
                if pick < 0.5:
                    r = await c.post(f"{path}/complete", json={"lease_token": t["lease_token"]})
                elif pick < 0.65:
                    r = await c.post(f"{path}/fail", json={"reason": "x"})
                elif pick < 0.75:
                    r = await c.post(f"{path}/release", json={})
                elif pick < 0.85:
                    r = await c.delete(path)
                elif pick < 0.9:
                    r = await c.patch(path, json={"channel": f"c{rnd.randrange(3)}"})
                else:
                    continue  # keep it: its lease runs out and the reaper takes it back
                # 409 or 404: its lease ran out and another worker took it (and maybe deleted it)
                assert r.status_code in (200, 404, 409), r.text
                if pick < 0.65 and rnd.random() < 0.3:
                    r = await c.post(f"{path}/reopen", json={"reason": "again"})
                    assert r.status_code in (200, 404, 409), r.text
                counts["ops"] += 1


@pytest.mark.timeout(300)
async def test_counts_stay_exact_under_sixteen_concurrent_workers(
    server_url: str, db_url: str
) -> None:
    counts = {"ops": 0}
    async with httpx.AsyncClient(base_url=server_url, headers=AGENT, timeout=30) as c:
        await post(c, "/orgs", {"slug": "acme", "name": "Acme"})
        await post(c, "/orgs/acme/projects", {"slug": "web", "name": "Web"})
        seed = [{"title": "s", "channel": f"c{i % 3}"} for i in range(500)]
        await post(c, "/tasks/bulk", {"tasks": seed})
        await post(c, f"{SCOPED}/tasks/bulk", {"tasks": seed[:200]})
        stop = time.monotonic() + 30  # SPEC §9.1: 16 workers for 30 s
        await asyncio.gather(*(_worker(server_url, n, stop, counts) for n in range(16)))
        assert counts["ops"] > 100
        # Let the leases left behind run out and the reaper settle: counts must hold still
        # while they are compared.
        for _ in range(100):
            await asyncio.sleep(0.2)
            async with Direct(db_url) as db:
                if await db.count("status = 'in_progress'") == 0:
                    break
        await check_everything(c, db_url)
