"""WebSocket ``/ws``: the protocol existing clients speak (SPEC §4).

The server sends only ``connected``, ``subscribed``, ``pong`` and event envelopes. A frame it
cannot read (not JSON, an unknown ``type``, a field of the wrong type) closes the connection
cleanly with code 1008 and a reason naming the problem; a subscriber that falls too far behind is
closed with 1013 and resumes with ``since``. A ``since`` whose successors event log retention
trimmed closes it with 4410 and the reason ``{"error": …, "code": "gone", "oldest": N}``.

Extensions in ``subscribe``: ``since`` (replay from the log, then live) and ``project``
(``"org/project"``: only that project's tasks).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ats.errors import Gone
from ats.jsontext import JsonError, dumps_text, loads_checked
from ats.models import Event, EventType
from ats.server.frames import direct_writer
from ats.service.bus import EventBus, EventFilter, Overflow, Subscription

router = APIRouter(tags=["events"])
_EVENT_TYPES = {e.value for e in EventType}
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
RESUME = "too far behind: resume with since"
CLOSE_WAIT_S = 1.0
GONE = 4410  # HTTP's 410 in the application range: `since` asked for trimmed events


def gone_reason(exc: Gone) -> str:
    """The close reason of 4410: JSON, like an HTTP error body (at most 123 bytes)."""
    return dumps_text({"error": "events no longer kept", "code": exc.code, **exc.details})


class BadFrame(Exception):
    pass


def _names(frame: dict[str, Any], key: str) -> frozenset[str] | None:
    value = frame.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadFrame(f"{key} must be a list of strings")
    return frozenset(value)


def _subscription_filter(frame: dict[str, Any]) -> tuple[EventFilter, int | None]:
    since = frame.get("since")
    if since is not None and (
        not isinstance(since, int) or isinstance(since, bool) or not 0 <= since < 2**63
    ):
        raise BadFrame("since must be a non-negative event id")
    project = frame.get("project")
    if project is not None and (not isinstance(project, str) or project.count("/") != 1):
        raise BadFrame("project must be a string 'org/project'")
    wanted = EventFilter(
        channels=_names(frame, "channels"),
        task_types=_names(frame, "task_types"),
        event_types=_names(frame, "event_types"),
        project=project,
    )
    return wanted, since


async def _pump(ws: WebSocket, sub: Subscription[Event], since: int | None) -> None:
    """Replay (when asked), then live events, to the socket; ids only grow, none twice.

    While the subscriber is caught up, the bus writes live events to the socket itself (see
    :mod:`ats.server.frames`); this task only runs when there is a backlog to send.
    """
    writer = direct_writer(ws.scope, sub)
    sent = since if since is not None else sub.start
    if since is not None:
        async for delivery in sub.replay(since):
            sent = delivery.event.id
            await ws.send_text(delivery.text)
    while True:
        if writer is not None and sub.queue.empty():
            sub.direct = writer
        for delivery in await sub.get_batch():
            if delivery.event.id > sent:
                sent = delivery.event.id
                await ws.send_text(delivery.text)


@router.websocket("/ws")
@router.websocket("//ws")  # some existing clients join base URL and path with a double slash
async def events_socket(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_text('{"type":"connected"}')
    bus: EventBus = ws.app.state.bus
    sub: Subscription[Event] | None = None
    pump: asyncio.Task[None] | None = None
    dropped: asyncio.Future[Any] | None = None
    receive: asyncio.Future[Any] | None = None
    try:
        while True:
            if receive is None or receive.done():
                receive = asyncio.ensure_future(ws.receive())
            waiting: set[asyncio.Future[Any]] = {receive}
            if pump is not None and dropped is not None:
                waiting |= {pump, dropped}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if dropped is not None and dropped in done:
                # Too far behind. The pump may be stuck on a socket the client does not read:
                # stop it, say why (best effort, the buffer may be full), and let go.
                if pump is not None:
                    pump.cancel()
                with contextlib.suppress(TimeoutError, RuntimeError, WebSocketDisconnect):
                    async with asyncio.timeout(CLOSE_WAIT_S):
                        await ws.close(TRY_AGAIN_LATER, RESUME)
                return
            if pump is not None and pump in done:
                failure = pump.exception()
                if isinstance(failure, Overflow):
                    await ws.close(TRY_AGAIN_LATER, RESUME)
                elif isinstance(failure, Gone):  # trimmed while the replay was on its way
                    await ws.close(GONE, gone_reason(failure))
                return  # the pump ended (overflow, gone, or the socket is gone)
            if receive not in done:
                continue
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                raise BadFrame("frames must be JSON text")
            try:
                frame = loads_checked(text)
            except JsonError as exc:
                raise BadFrame(f"frames must be JSON objects ({exc.message})") from None
            if not isinstance(frame, dict):
                raise BadFrame("frames must be JSON objects")
            kind = frame.get("type")
            if kind == "ping":
                await ws.send_text('{"type":"pong"}')
            elif kind == "subscribe":
                wanted, since = _subscription_filter(frame)
                if pump is not None:
                    pump.cancel()
                if dropped is not None:
                    dropped.cancel()
                if sub is not None:
                    sub.close()
                    sub.direct = None
                sub = await bus.subscribe(wanted)
                if since is not None and since > sub.start:
                    head = await bus.head()
                    if since > head:
                        # Waiting for an id the log has not reached would skip every event up
                        # to it without a word (a client resuming against another database).
                        raise BadFrame(f"since {since} is beyond the newest event ({head})")
                if since is not None:
                    await bus.ensure_kept(since)  # Gone: closed with 4410 below
                dropped = asyncio.ensure_future(sub.dropped.wait())
                ack: dict[str, Any] = {"type": "subscribed"}
                if "id" in frame:
                    ack["id"] = frame["id"]
                await ws.send_text(dumps_text(ack))
                pump = asyncio.create_task(_pump(ws, sub, since))
            else:
                raise BadFrame(f"unknown message type {kind!r} (expected subscribe or ping)")
    except BadFrame as exc:
        await ws.close(POLICY_VIOLATION, str(exc)[:120])
    except Gone as exc:
        await ws.close(GONE, gone_reason(exc))
    except WebSocketDisconnect:
        pass
    finally:
        for waiter in (receive, dropped):
            if waiter is not None and not waiter.done():
                waiter.cancel()
        if pump is not None and not pump.done():
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if sub is not None:
            sub.direct = None
            sub.close()
