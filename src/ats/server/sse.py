"""Server-sent event streams over a bus subscription (task events and the activity feed).

The subscription is taken before the replay, so nothing committed during the replay is lost; live
entries already replayed are skipped by id. Queued entries go out in one write; a comment
heartbeat every 15 s keeps proxies from closing an idle stream. A subscriber that falls too far
behind is dropped: the stream ends and the client resumes with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse

from ats.errors import Gone, InvalidInput
from ats.service.bus import Bus, Delivery, Overflow, Subscription

HEARTBEAT_S = 15.0
CHUNK = 500

Frame = Callable[[Delivery[Any]], bytes]


async def beyond_head(bus: Bus[Any], sub: Subscription[Any], since: Any, field: str) -> None:
    """Refuse a resume point the log has not reached: waiting for it would skip, without a word,
    every event up to it (a client resuming against another or a recreated database)."""
    if since is None or not since > sub.start:
        return
    head = await bus.head()
    if since > head:
        sub.close()
        raise InvalidInput(
            f"{field}: {since} is beyond the newest event ({head or 'none yet'})", field=field
        )


def stream(sub: Subscription[Any], since: Any, frame: Frame) -> StreamingResponse:
    """The response for ``sub``: replay after ``since`` (None: live only), then live."""

    async def frames() -> AsyncIterator[bytes]:
        try:
            sent = since if since is not None else sub.start
            if since is not None:
                chunk = []
                async for delivery in sub.replay(since):
                    sent = delivery.event.id
                    chunk.append(frame(delivery))
                    if len(chunk) >= CHUNK:
                        yield b"".join(chunk)
                        chunk = []
                if chunk:
                    yield b"".join(chunk)
            while True:
                try:
                    async with asyncio.timeout(HEARTBEAT_S):
                        batch = await sub.get_batch()
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                fresh = [d for d in batch if d.event.id > sent]
                if fresh:
                    sent = fresh[-1].event.id
                    yield b"".join(frame(d) for d in fresh)
        except Overflow:
            return  # too slow: the connection ends; the client resumes with Last-Event-ID
        except Gone:
            # Retention trimmed events the replay had not reached yet: the status line is gone
            # already, so end the stream; the client's resume (Last-Event-ID) is answered 410.
            return
        finally:
            sub.close()

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
