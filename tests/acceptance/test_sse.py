"""SSE `GET /events/stream` against a real server on both backends (SPEC §4)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx


async def frames(resp: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parsed SSE frames (comments skipped)."""
    frame: dict[str, Any] = {}
    async for line in resp.aiter_lines():
        if line == "":
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(": ")
            frame[key] = json.loads(value) if key == "data" else value


async def take(stream: AsyncIterator[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        return [await anext(stream) for _ in range(n)]


async def test_live_stream_filters_by_channel(server_url: str) -> None:
    async with (
        httpx.AsyncClient(base_url=server_url, timeout=10) as c,
        c.stream("GET", "/events/stream", params={"channel": "w1"}) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        await c.post("/tasks", json={"title": "elsewhere", "channel": "w2"})
        started = time.monotonic()
        tid = (await c.post("/tasks", json={"title": "here", "channel": "w1"})).json()["id"]
        [frame] = await take(frames(resp), 1)
        assert time.monotonic() - started < 2
    assert frame["event"] == "task.created"
    assert frame["data"]["task_id"] == tid and frame["data"]["channel"] == "w1"
    assert frame["data"]["data"]["task"]["title"] == "here"
    assert int(frame["id"]) == frame["data"]["id"]


async def test_replay_then_live_without_gap_or_duplicate(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url, timeout=10) as c:
        ids = [(await c.post("/tasks", json={"title": f"t{i}"})).json()["id"] for i in range(3)]
        async with c.stream("GET", "/events/stream", params={"since": 0}) as resp:
            stream = frames(resp)
            replayed = await take(stream, 3)
            later = (await c.post("/tasks", json={"title": "later"})).json()["id"]
            [live] = await take(stream, 1)
        event_ids = [int(f["id"]) for f in [*replayed, live]]
        assert event_ids == sorted(set(event_ids))
        assert [f["data"]["task_id"] for f in [*replayed, live]] == [*ids, later]
        # resume after the second event with Last-Event-ID
        headers = {"Last-Event-ID": str(event_ids[1])}
        async with c.stream("GET", "/events/stream", headers=headers) as resp:
            resumed = await take(frames(resp), 2)
        assert [int(f["id"]) for f in resumed] == event_ids[2:]


async def test_event_type_filter_and_bad_input(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url, timeout=10) as c:
        params = {"event": "task.completed"}
        async with c.stream("GET", "/events/stream", params=params) as resp:
            tid = (await c.post("/tasks", json={"title": "x"})).json()["id"]
            await c.post(f"/tasks/{tid}/claim")
            await c.post(f"/tasks/{tid}/complete")
            [frame] = await take(frames(resp), 1)
        assert frame["event"] == "task.completed" and frame["data"]["task_id"] == tid
        bad = await c.get("/events/stream", headers={"Last-Event-ID": "abc"})
        assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]
        bad = await c.get("/events/stream", params={"event": "task.exploded"})
        assert bad.status_code == 400 and "event" in bad.json()["error"]
        missing = await c.get("/orgs/nope/projects/none/events/stream")
        assert missing.status_code == 404
