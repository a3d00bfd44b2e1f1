"""Concurrency with real processes and sockets: a real `ats serve`, many clients."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

TASKS = 10_000
WORKERS = 16


async def test_claim_race_exactly_one_winner(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as c:
        for _ in range(5):
            tid = (await c.post("/tasks", json={"title": "contested"})).json()["id"]
            results = await asyncio.gather(
                *(c.post(f"/tasks/{tid}/claim", headers={"X-Actor-ID": f"w{i}"}) for i in range(8))
            )
            codes = sorted(r.status_code for r in results)
            assert codes == [200] + [409] * 7
            assert all(
                "already claimed" in r.json()["error"] for r in results if r.status_code == 409
            )


@pytest.mark.timeout(600)
async def test_sixteen_workers_drain_ten_thousand_tasks(server_url: str) -> None:
    limits = httpx.Limits(max_connections=WORKERS + 4)
    async with httpx.AsyncClient(base_url=server_url, limits=limits, timeout=30) as c:
        for start in range(0, TASKS, 1000):
            r = await c.post(
                "/tasks/bulk",
                json={"tasks": [{"title": f"job {i}", "channel": "drain"}
                                for i in range(start, start + 1000)]},
            )  # fmt: skip
            assert r.status_code == 201
        completed: Counter[int] = Counter()
        errors: list[str] = []

        async def worker(n: int) -> None:
            headers = {"X-Actor-ID": f"worker-{n}"}
            while True:
                r = await c.post("/tasks/claim", json={"channel": "drain"}, headers=headers)
                if r.status_code != 200:
                    errors.append(f"claim {r.status_code} {r.text}")
                    return
                tasks = r.json()["tasks"]
                if not tasks:
                    return
                t = tasks[0]
                done = await c.post(
                    f"/tasks/{t['id']}/complete",
                    json={"outputs": [n], "lease_token": t["lease_token"]},
                    headers=headers,
                )
                if done.status_code != 200:
                    errors.append(f"complete {done.status_code} {done.text}")
                    return
                completed[t["id"]] += 1

        await asyncio.gather(*(worker(n) for n in range(WORKERS)))
        assert errors == []
        assert len(completed) == TASKS
        assert set(completed.values()) == {1}
        stats = (await c.get("/tasks/stats")).json()["stats"]
        assert stats["by_status"]["completed"] == TASKS
        assert stats["by_status"]["pending"] == 0 and stats["by_status"]["in_progress"] == 0
