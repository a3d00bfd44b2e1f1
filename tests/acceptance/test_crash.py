"""A killed server loses nothing it acknowledged (SPEC §10)."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx

from tests.conftest import free_port, start_server, stop_server


async def test_sigkill_mid_load_loses_no_acknowledged_task(db_url: str) -> None:
    port = free_port()
    proc = start_server(db_url, port=port)
    acknowledged: list[int] = []
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:

            async def writer(n: int) -> None:
                for i in range(10_000):
                    try:
                        r = await client.post("/tasks", json={"title": f"w{n}-{i}"})
                    except httpx.HTTPError:
                        return  # the server is gone: stop
                    if r.status_code == 201:
                        acknowledged.append(r.json()["id"])

            writers = [asyncio.create_task(writer(n)) for n in range(8)]
            await asyncio.sleep(1.5)
            os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no flush
            await asyncio.gather(*writers)
    finally:
        stop_server(proc)
    assert len(acknowledged) > 50
    proc = start_server(db_url, port=port)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for task_id in acknowledged:
                r = await client.get(f"/tasks/{task_id}")
                assert r.status_code == 200, task_id
            count = (await client.get("/tasks", params={"limit": 1})).json()["count"]
            assert count >= len(acknowledged)
            created: set[int] = set()
            since = 0
            while True:
                params = {"since": since, "limit": 1000, "event": "task.created"}
                page = (await client.get("/events", params=params)).json()["events"]
                if not page:
                    break
                created.update(e["task_id"] for e in page)
                since = page[-1]["id"]
            assert set(acknowledged) <= created  # each acknowledged create kept its event
    finally:
        stop_server(proc)
