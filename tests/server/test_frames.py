"""The WebSocket fast path: frames built once per event, written straight to caught-up sockets."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from ats.server.app import create_app
from ats.server.frames import text_frame
from tests.conftest import free_port


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_text_frame_parses_as_one_unmasked_final_text_frame(size: int) -> None:
    payload = b"x" * size
    reader = StreamReader()
    reader.feed_data(text_frame(payload))
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False, max_size=None)
    try:
        next(parser)
        raise AssertionError("incomplete frame")
    except StopIteration as done:
        frame = done.value
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


async def test_caught_up_subscribers_are_written_directly(db_url: str) -> None:
    """Under uvicorn's sans-I/O protocol (what ``ats serve`` runs) the bus writes live events
    to a caught-up subscriber itself; the client sees the ordinary protocol."""
    port = free_port()
    app = create_app(db_url)
    config = uvicorn.Config(
        app, port=port, ws="websockets-sansio", log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
                await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        async with (
            connect(f"ws://127.0.0.1:{port}/ws?actor_id=f") as ws,
            httpx.AsyncClient(base_url=url) as c,
        ):
            assert json.loads(await ws.recv()) == {"type": "connected"}
            await ws.send(json.dumps({"type": "subscribe", "id": "a"}))
            assert json.loads(await ws.recv()) == {"type": "subscribed", "id": "a"}
            ids = [
                (await c.post("/tasks", json={"title": f"t{i}"})).json()["id"] for i in range(50)
            ]
            got = [json.loads(await ws.recv())["task_id"] for _ in ids]
            assert got == ids
            [sub] = list(app.state.bus._subscribers)
            assert sub.direct is not None  # the fast path is armed
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}  # still the same stream
    finally:
        server.should_exit = True
        await serving
