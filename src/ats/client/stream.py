"""Live events over the WebSocket ``/ws`` that survive disconnects: nothing lost, nothing twice.

The stream remembers the id of the last event it yielded. Every (re)connection subscribes with
``since`` set to that id, so the server replays what was missed from its durable log and then goes
live; an event at or below the remembered id is never yielded again. A stream started without
``since`` first asks the server where its log ends (``GET /events/latest``) so that even a
disconnect before the first event loses nothing.

The first connection must succeed (a server that is not there is an error the caller sees at
once); after that, the stream reconnects by itself with exponential backoff and jitter.

When the server no longer keeps the events after that id (event log retention: close code 4410),
the stream says so — ``on_gap(EventGap)``, or an :class:`EventGapWarning` when nobody listens —
and goes on from the oldest event kept. A gap is never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self, TypeVar
from urllib.parse import urlencode

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ats import redact
from ats.errors import InvalidInput, Unavailable
from ats.jsontext import dumps, loads
from ats.models import Actor, Event

POLICY_VIOLATION = 1008  # the server refused a frame we sent: retrying cannot help
TRY_AGAIN_LATER = 1013  # we fell behind and were dropped: resume at once
GONE = 4410  # the events after our `since` were trimmed: the reason names the oldest kept
MAX_FRAME = 16 * 1024 * 1024
T = TypeVar("T")
_DISCONNECTS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    EOFError,
    websockets.ConnectionClosed,
    websockets.InvalidHandshake,
)


@dataclass(frozen=True, slots=True)
class EventGap:
    """Events the stream could not deliver: the server trimmed them (event log retention)."""

    after: int  # the last event id the stream had (or was asked to start after)
    oldest: int  # the first event the server still keeps; the stream goes on from there

    @property
    def missed(self) -> int:
        """At most this many events were missed (fewer when filters would have skipped some)."""
        return max(0, self.oldest - 1 - self.after)

    def __str__(self) -> str:
        return (
            f"events {self.after + 1}..{self.oldest - 1} are no longer kept by the server "
            f"(event log retention): up to {self.missed} event(s) missed; "
            f"continuing from event {self.oldest}"
        )


class EventGapWarning(UserWarning):
    """Issued by an event stream that skipped trimmed events and has no ``on_gap`` callback."""


@dataclass(frozen=True, slots=True)
class EventFilters:
    channels: list[str] | None = None
    task_types: list[str] | None = None
    event_types: list[str] | None = None
    project: str | None = None  # "org/project"

    def frame(self, since: int) -> bytes:
        frame: dict[str, Any] = {"type": "subscribe", "id": "ats-sdk", "since": since}
        for key in ("channels", "task_types", "event_types", "project"):
            value = getattr(self, key)
            if value is not None:
                frame[key] = value
        return dumps(frame)


@dataclass(slots=True)
class Backoff:
    first: float = 0.2
    most: float = 5.0
    _next: float = 0.0

    def reset(self) -> None:
        self._next = self.first

    def delay(self) -> float:
        current = self._next or self.first
        self._next = min(current * 2, self.most)
        return current * random.uniform(0.8, 1.2)


class LiveStream(AsyncIterator[T]):
    """A live stream: iterate it; close it (or use ``async with``) when done early."""

    def __init__(self, events: AsyncGenerator[T, None]) -> None:
        self._events = events

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        return await anext(self._events)

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


class EventStream(LiveStream[Event]):
    """The live task-event stream (``AsyncClient.events``)."""


def socket_url(base: str, actor: Actor) -> str:
    scheme, _, rest = base.partition("://")
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    query = urlencode(
        {"actor_type": actor.type.value, "actor_id": actor.id, "actor_name": actor.name}
    )
    return f"{ws_scheme}://{rest.rstrip('/')}/ws?{query}"


def names(values: Iterable[str] | None) -> list[str] | None:
    return None if values is None else list(values)


async def follow(
    url: str,
    actor: Actor,
    filters: EventFilters,
    *,
    since: int | None,
    latest: Callable[[], Awaitable[int]],
    reconnect: bool = True,
    backoff: Backoff | None = None,
    on_connect: Callable[[int], None] | None = None,
    on_disconnect: Callable[[str, float], None] | None = None,
    on_gap: Callable[[EventGap], None] | None = None,
) -> AsyncGenerator[Event, None]:
    """Yield every matching event after ``since`` (or after now), forever."""
    last = since if since is not None else await latest()
    wait = backoff or Backoff()
    wait.reset()
    first = True
    target = socket_url(url, actor)
    while True:
        oldest: int | None = None
        try:
            async with connect(target, open_timeout=10, max_size=MAX_FRAME) as ws:
                await _subscribe(ws, filters, last)
                if on_connect is not None:
                    on_connect(last)
                first = False
                wait.reset()
                async for raw in ws:
                    envelope = loads(raw)
                    if "task_id" not in envelope:
                        continue  # connected / subscribed / pong
                    event = Event.from_json(envelope)
                    if event.id <= last:
                        continue
                    last = event.id
                    yield event
                oldest = _trimmed(ws.close_code, ws.close_reason)
                reason = _closed_reason(ws) if oldest is None else "gone"
        except _DISCONNECTS as exc:
            rcvd = getattr(exc, "rcvd", None)
            oldest = _trimmed(rcvd.code, rcvd.reason) if rcvd is not None else None
            reason = "gone" if oldest is not None else _describe(exc)  # a refusal (1008) raises
            if first and oldest is None:
                where = redact.url(target, query="drop")  # ?access_token= travels there
                raise Unavailable(f"cannot reach the ATS event stream at {where} ({exc})") from exc
        if oldest is not None:
            # Not a lost connection: the server answered, and the subscription goes on from the
            # oldest event it keeps, after saying what was skipped.
            gap = EventGap(last, oldest)
            if on_gap is not None:
                on_gap(gap)
            else:
                warnings.warn(f"ats event stream: {gap}", EventGapWarning, stacklevel=2)
            if oldest - 1 <= last:  # no progress (a server contradicting itself): do not spin
                await asyncio.sleep(wait.delay())
            last = max(last, oldest - 1)
            first = False
            continue
        if not reconnect:
            raise Unavailable(f"the event stream ended: {reason}")
        delay = 0.0 if reason.startswith(f"{TRY_AGAIN_LATER} ") else wait.delay()
        if on_disconnect is not None:
            on_disconnect(reason, delay)
        await asyncio.sleep(delay)


async def _subscribe(ws: ClientConnection, filters: EventFilters, since: int) -> None:
    await ws.send(filters.frame(since).decode())
    async with asyncio.timeout(10):
        while True:
            message = loads(await ws.recv())
            if message.get("type") == "subscribed":
                return


def _trimmed(code: int | None, reason: str | None) -> int | None:
    """The oldest event kept, when the server closed with 4410 (its reason is a JSON error)."""
    if code != GONE:
        return None
    with contextlib.suppress(ValueError, TypeError, KeyError):
        return int(loads(reason or "{}")["oldest"])
    raise InvalidInput(f"the server closed with {GONE} without the oldest event kept: {reason}")


def _closed_reason(ws: ClientConnection) -> str:
    code = ws.close_code
    text = ws.close_reason or ""
    if code == POLICY_VIOLATION:
        raise InvalidInput(f"the server refused the subscription: {text}")
    return f"{code} {text}".strip() if code is not None else "connection closed"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, websockets.ConnectionClosed):
        if exc.rcvd is not None and exc.rcvd.code == POLICY_VIOLATION:
            raise InvalidInput(f"the server refused the subscription: {exc.rcvd.reason}") from exc
        if exc.rcvd is not None:
            return f"{exc.rcvd.code} {exc.rcvd.reason}".strip()
    return str(exc) or type(exc).__name__
