"""Live readers that resume after any disconnect the way a careful client does — WebSocket with
``since``, SSE with ``Last-Event-ID`` — keeping every event id they were sent, in order."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from tests.acceptance.test_sse import frames

RETRY_S = 0.2


@dataclass
class Follower:
    name: str
    ids: list[int] = field(default_factory=list)
    reconnects: int = 0
    ends: list[str] = field(default_factory=list)  # why each connection ended

    @property
    def last(self) -> int:
        return self.ids[-1] if self.ids else 0

    async def reached(self, last_id: int, within: float) -> None:
        deadline = time.monotonic() + within
        while self.last < last_id:
            assert time.monotonic() < deadline, (
                f"{self.name} stuck at event {self.last} of {last_id}; ended: {self.ends[-3:]}"
            )
            await asyncio.sleep(0.05)


async def follow_ws(url: str, f: Follower) -> None:
    """``/ws``, subscribed to everything after the last event seen; forever (cancel it)."""
    ws_url = url.replace("http://", "ws://") + "/ws?actor_type=agent&actor_id=chaos"
    while True:
        try:
            async with connect(ws_url, open_timeout=5) as ws:
                hello = json.loads(await ws.recv())
                assert hello == {"type": "connected"}, hello
                await ws.send(json.dumps({"type": "subscribe", "id": "f", "since": f.last}))
                ack = json.loads(await ws.recv())
                assert ack == {"type": "subscribed", "id": "f"}, ack
                async for text in ws:
                    f.ids.append(json.loads(text)["id"])
                f.ends.append(f"closed {ws.close_code} {ws.close_reason}")
        except (OSError, TimeoutError, WebSocketException) as exc:
            f.ends.append(repr(exc))
        f.reconnects += 1
        await asyncio.sleep(RETRY_S)


async def follow_sse(url: str, f: Follower) -> None:
    """``/events/stream`` from the start, resumed with ``Last-Event-ID``; forever (cancel it)."""
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(5, read=30)) as c:
        while True:
            resume = {"headers": {"Last-Event-ID": str(f.last)}} if f.ids else {}
            try:
                async with c.stream("GET", "/events/stream", params={"since": 0}, **resume) as r:
                    if r.status_code != 200:
                        await r.aread()
                        f.ends.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        async for frame in frames(r):
                            assert int(frame["id"]) == frame["data"]["id"], frame
                            f.ids.append(frame["data"]["id"])
                        f.ends.append("stream ended")
            except httpx.TransportError as exc:
                f.ends.append(repr(exc))
            f.reconnects += 1
            await asyncio.sleep(RETRY_S)
