"""WebSocket `/ws` against a real server on both backends (SPEC §4)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


def ws_url(server_url: str, path: str = "/ws") -> str:
    return server_url.replace("http://", "ws://") + path + "?actor_type=agent&actor_id=w"


async def recv(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(10):
        message = json.loads(await ws.recv())
    assert isinstance(message, dict)
    return message


async def test_protocol_subscribe_filter_ping(server_url: str) -> None:
    async with connect(ws_url(server_url)) as ws, httpx.AsyncClient(base_url=server_url) as c:
        assert await recv(ws) == {"type": "connected"}
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        await ws.send(json.dumps({"type": "subscribe", "id": "s1", "channels": ["w1"]}))
        assert await recv(ws) == {"type": "subscribed", "id": "s1"}
        await c.post("/tasks", json={"title": "other", "channel": "w2"})
        tid = (await c.post("/tasks", json={"title": "mine", "channel": "w1"})).json()["id"]
        event = await recv(ws)
        assert event["type"] == "task.created" and event["task_id"] == tid
        assert event["channel"] == "w1" and event["data"]["task"]["title"] == "mine"
        # a new subscribe replaces the filter
        await ws.send(
            json.dumps({"type": "subscribe", "id": "s2", "event_types": ["task.completed"]})
        )
        assert await recv(ws) == {"type": "subscribed", "id": "s2"}
        await c.post(f"/tasks/{tid}/claim")
        await c.post(f"/tasks/{tid}/complete")
        done = await recv(ws)
        assert done["type"] == "task.completed" and done["task_id"] == tid


async def test_since_replays_then_goes_live(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as c:
        ids = [(await c.post("/tasks", json={"title": f"t{i}"})).json()["id"] for i in range(3)]
        async with connect(ws_url(server_url, "//ws")) as ws:
            assert await recv(ws) == {"type": "connected"}
            await ws.send(json.dumps({"type": "subscribe", "id": "r", "since": 0}))
            assert await recv(ws) == {"type": "subscribed", "id": "r"}
            replayed = [await recv(ws) for _ in range(3)]
            later = (await c.post("/tasks", json={"title": "later"})).json()["id"]
            live = await recv(ws)
    assert [e["task_id"] for e in [*replayed, live]] == [*ids, later]
    event_ids = [e["id"] for e in [*replayed, live]]
    assert event_ids == sorted(set(event_ids))


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"type": "dance"}',
        '{"type": "subscribe", "channels": "w1"}',
        '{"type": "subscribe", "since": -1}',
        '{"type": "subscribe", "since": 18446744073709551616}',
        '{"type": "subscribe", "since": NaN}',
        '{"type": "subscribe", "since": "\u00b2"}',
        '{"type": "subscribe", "project": 5}',
        r'{"type": "subscribe", "id": "\ud800"}',
        '{"type": "subscribe", "channels": ["a\u0000"]}',
        b'{"type": "ping"}',  # a binary frame
        b"\xff\xfe",
    ],
)
async def test_bad_frames_close_cleanly_and_others_keep_going(
    server_url: str, frame: str | bytes
) -> None:
    async with connect(ws_url(server_url)) as good, connect(ws_url(server_url)) as bad:
        assert await recv(good) == {"type": "connected"}
        assert await recv(bad) == {"type": "connected"}
        await bad.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            await recv(bad)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await good.send(json.dumps({"type": "ping"}))
        assert await recv(good) == {"type": "pong"}


async def test_a_client_that_never_reads_is_dropped_and_slows_nobody(server_url: str) -> None:
    """The deaf client subscribes, then stops reading its socket: the socket buffers fill, its
    queue on the server overflows — and it alone is let go, while a reader next to it gets every
    event."""
    subscribe = json.dumps({"type": "subscribe", "id": "s"})
    total = 6000
    async with (
        connect(ws_url(server_url)) as deaf,
        connect(ws_url(server_url), max_size=None) as reader,
        httpx.AsyncClient(base_url=server_url, timeout=30) as c,
    ):
        for ws in (deaf, reader):
            assert await recv(ws) == {"type": "connected"}
            await ws.send(subscribe)
            assert await recv(ws) == {"type": "subscribed", "id": "s"}
        deaf.transport.pause_reading()  # deaf from here on, down to the TCP window

        async def read_all() -> list[int]:
            ids: list[int] = []
            while len(ids) < total:
                ids.append((await recv(reader))["task_id"])
            return ids

        reading = asyncio.create_task(read_all())
        pad = "x" * 4000  # ~4.5 KB per event: 27 MB in all, far beyond the socket buffers
        for batch in range(total // 200):
            tasks = [{"title": f"b{batch}-{i}", "payload": {"pad": pad}} for i in range(200)]
            r = await c.post("/tasks/bulk", json={"tasks": tasks})
            assert r.status_code == 201, r.text
        ids = await asyncio.wait_for(reading, 60)
        assert len(ids) == total and ids == sorted(set(ids))  # every event, once, in order
        # now read the deaf socket: what was buffered, then the end of the connection
        deaf.transport.resume_reading()
        received = 0
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(60):
                while True:
                    await deaf.recv()
                    received += 1
        assert 0 < received < total
        # a close frame (1013) when it fitted in the buffer, else just the end of the stream
        rcvd = closed.value.rcvd
        assert rcvd is None or rcvd.code == 1013
        assert (await c.get("/health")).status_code == 200
