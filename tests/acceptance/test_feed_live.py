"""The activity feed against real servers: many publishers, polling, SSE resume, a restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import free_port, running_server, start_server, stop_server


async def publish_many(url: str, clients: int, each: int, acked: list[str]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:

        async def one(n: int) -> None:
            for i in range(each):
                body = {"agent": f"agent-{n}", "type": "custom", "summary": f"{n}-{i}"}
                r = await c.post("/feed/events", json=body)
                assert r.status_code == 201, r.text
                acked.append(r.json()["id"])

        await asyncio.gather(*(one(n) for n in range(clients)))


async def poll_until(url: str, total: int) -> list[str]:
    """The skill's loop: GET /feed/events?since=$LAST_ID, forever."""
    seen: list[str] = []
    last = "00000000000000000000000000"
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        while len(seen) < total:
            page = (await c.get("/feed/events", params={"since": last, "limit": 1000})).json()
            if page:
                seen += [e["id"] for e in page]
                last = page[-1]["id"]
            else:
                await asyncio.sleep(0.01)
    return seen


@pytest.mark.slow
async def test_ten_thousand_from_eight_clients_polled_exactly_once(db_url: str) -> None:
    urls: list[str] = []
    with contextlib.ExitStack() as stack:
        urls.append(stack.enter_context(running_server(db_url)))
        if db_url.startswith("postgresql"):  # and across two server processes
            urls.append(stack.enter_context(running_server(db_url)))
        acked: list[str] = []
        poller = asyncio.create_task(poll_until(urls[-1], 10_000))
        per_server = 8 // len(urls)
        await asyncio.gather(*(publish_many(u, per_server, 10_000 // 8, acked) for u in urls))
        seen = await asyncio.wait_for(poller, 120)
    assert len(acked) == 10_000 and len(set(acked)) == 10_000
    assert seen == sorted(acked)  # every one, once, in id order, though polled while publishing


async def sse_events(
    url: str, headers: dict[str, str], until: Callable[[dict[str, str]], bool]
) -> list[str]:
    """Read ``/feed/stream`` until ``until(event)`` holds; the ids seen, in order."""
    got: list[str] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as c,
        c.stream("GET", "/feed/stream", headers=headers) as r,
    ):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if line.startswith("id: "):
                got.append(line[4:])
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                assert event["id"] == got[-1]
                if until(event):
                    break
    return got


async def test_sse_resume_with_last_event_id_while_publishing(server_url: str) -> None:
    acked: list[str] = []
    publisher = asyncio.create_task(publish_many(server_url, 4, 200, acked))
    counted = iter(range(1, 10**9))
    first = await sse_events(server_url, {}, lambda _e: next(counted) >= 100)  # then hang up
    # reconnect while publishing goes on: the replay and the live stream overlap
    second_read = asyncio.create_task(
        sse_events(server_url, {"Last-Event-ID": first[-1]}, lambda e: e["summary"] == "END")
    )
    await publisher
    async with httpx.AsyncClient(base_url=server_url) as c:
        end = await c.post("/feed/events", json={"agent": "x", "type": "custom", "summary": "END"})
    second = await asyncio.wait_for(second_read, 60)
    seen = first + second
    assert seen == sorted(set(seen))  # nothing twice, in order
    # the first stream was subscribed before its first event committed (ids are commit
    # order): every event from there on must have arrived, across the reconnect
    assert seen == sorted(a for a in [*acked, end.json()["id"]] if a >= first[0])


async def test_every_acknowledged_event_survives_a_restart(db_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, port=port)
    acked: list[str] = []
    try:
        await publish_many(url, 4, 50, acked)
    finally:
        stop_server(proc)
    proc = start_server(db_url, port=port)
    try:
        async with httpx.AsyncClient(base_url=url) as c:
            listed = (await c.get("/feed/events", params={"limit": 1000})).json()
            stats = (await c.get("/feed/stats")).json()
        assert [e["id"] for e in listed] == sorted(acked)
        assert stats["total"] == len(listed) == 200
        assert sum(stats["byAgent"].values()) == 200 and stats["byType"] == {"custom": 200}
    finally:
        stop_server(proc)
