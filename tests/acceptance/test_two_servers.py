"""Two `ats serve` processes on one PostgreSQL act as one service."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from tests.conftest import running_server


async def test_leases_expire_exactly_once_with_two_reapers(pg_url: str) -> None:
    with (
        running_server(pg_url, "--reaper-interval", "0.05") as a,
        running_server(pg_url, "--reaper-interval", "0.05") as b,
    ):
        async with httpx.AsyncClient(base_url=a) as ca, httpx.AsyncClient(base_url=b) as cb:
            ids = []
            for i in range(40):
                r = await (ca if i % 2 else cb).post("/tasks", json={"title": f"l{i}"})
                ids.append(r.json()["id"])
            for i, tid in enumerate(ids):
                r = await ca.post(
                    f"/tasks/{tid}/claim", json={"lease_duration": 100 + 10 * (i % 5)}
                )
                assert r.status_code == 200
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pending = (await cb.get("/tasks", params={"status": "pending"})).json()["count"]
                if pending == len(ids):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # more reaper rounds on both servers
            events = (
                await cb.get("/events", params={"event": "task.lease_expired", "limit": 1000})
            ).json()["events"]
            per_task = Counter(e["task_id"] for e in events)
            assert per_task == Counter(dict.fromkeys(ids, 1))
            # each server sees the other's writes
            assert (await ca.get(f"/tasks/{ids[0]}")).json()["status"] == "pending"


async def test_workers_flag_runs_several_processes(pg_url: str) -> None:
    with running_server(pg_url, "--workers", "2") as url:
        async with httpx.AsyncClient(base_url=url) as c:
            results = await asyncio.gather(
                *(c.post("/tasks", json={"title": f"t{i}"}) for i in range(50))
            )
            assert all(r.status_code == 201 for r in results)
            assert (await c.get("/tasks")).json()["count"] == 50


async def test_websocket_on_b_sees_every_event_made_through_a(pg_url: str) -> None:
    import json

    from websockets.asyncio.client import connect

    with running_server(pg_url) as a, running_server(pg_url) as b:
        ws_b = b.replace("http://", "ws://") + "/ws"
        async with connect(ws_b) as ws, httpx.AsyncClient(base_url=a) as ca:
            assert json.loads(await ws.recv()) == {"type": "connected"}
            await ws.send(json.dumps({"type": "subscribe", "id": "x"}))
            assert json.loads(await ws.recv()) == {"type": "subscribed", "id": "x"}
            expected: list[tuple[str, int]] = []
            for i in range(20):
                tid = (await ca.post("/tasks", json={"title": f"a{i}"})).json()["id"]
                expected.append(("task.created", tid))
                if i % 2:
                    await ca.post(f"/tasks/{tid}/claim")
                    await ca.post(f"/tasks/{tid}/complete")
                    expected += [("task.claimed", tid), ("task.completed", tid)]
            got = []
            async with asyncio.timeout(15):
                while len(got) < len(expected):
                    event = json.loads(await ws.recv())
                    got.append(event)
    assert [(e["type"], e["task_id"]) for e in got] == expected
    assert [e["id"] for e in got] == sorted({e["id"] for e in got})
