"""The activity feed (``/feed…``, SPEC §7): publish, read, clear, export / import, follow live.

``FeedMethods`` is mixed into ``AsyncClient``; a scoped client uses the project's
``/orgs/{org}/projects/{project}/feed…`` routes, like every other call.

The live stream is the server's SSE ``GET /feed/stream``, read with httpx and parsed here. It
remembers the id of the last event it yielded and resumes after it (``Last-Event-ID``) whenever
the connection is lost, so none is lost and none comes twice. A stream started without ``since``
first asks for the newest event's id and starts after it: even a disconnect before the first event
then loses nothing. The first connection must succeed; after that the stream reconnects by itself
with backoff (the server ending the stream, as it does to a subscriber that falls behind, is a
disconnect like any other).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Awaitable, Callable

import httpx

from ats import redact
from ats.client.http import Connection, error_of
from ats.client.projects import JSON, drop_none, seg
from ats.client.stream import Backoff, LiveStream
from ats.errors import AtsError, Unavailable
from ats.jsontext import loads
from ats.models import FeedEvent, FeedType

# The smallest ULID: "after it" means every event. Where a stream starts on an empty feed.
BEGINNING = "0" * 26
# The server sends a heartbeat every 15 s: three missed ones mean the connection is dead.
READ_TIMEOUT = 45.0
NDJSON = "application/x-ndjson"


class FeedStream(LiveStream[FeedEvent]):
    """The live feed (``AsyncClient.feed_stream``)."""


class FeedMethods:
    """The ``feed_*`` methods of ``AsyncClient``."""

    _conn: Connection
    _root: str

    def _feed(self, rest: str = "") -> str:
        return f"{self._root}/feed{rest}"

    async def feed_publish(
        self,
        agent: str,
        type: FeedType | str,
        summary: str,
        *,
        detail: str | None = None,
        metadata: JSON | None = None,
    ) -> FeedEvent:
        """Publish one event; the server gives it its id and time."""
        body = drop_none(
            agent=agent, type=str(type), summary=summary, detail=detail, metadata=metadata
        )
        return FeedEvent.from_json(
            await self._conn.request("POST", self._feed("/events"), json=body)
        )

    async def feed_list(
        self,
        *,
        agent: str | None = None,
        type: FeedType | str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[FeedEvent]:
        """Events oldest first: the last ``limit`` (default 50), or with ``since`` (an event id
        or an ISO time, exclusive) the first ``limit`` after it — poll with the last id seen."""
        params = drop_none(agent=agent, type=_text(type), since=since, limit=limit)
        body = await self._conn.request("GET", self._feed("/events"), params=params)
        return [FeedEvent.from_json(e) for e in body]

    async def feed_get(self, id: str) -> FeedEvent:
        """One event by id (``NotFound`` if there is none)."""
        body = await self._conn.request("GET", self._feed(f"/events/{seg(id)}"))
        return FeedEvent.from_json(body)

    async def feed_clear(self) -> None:
        """Delete every feed event (of the project, for a scoped client)."""
        await self._conn.request("DELETE", self._feed("/events"))

    async def feed_stats(self) -> JSON:
        """``{"total", "byAgent", "byType", "latestPerAgent"}`` as the server sends it."""
        result: JSON = await self._conn.request("GET", self._feed("/stats"))
        return result

    async def feed_export(self) -> bytes:
        """The whole feed as JSON Lines (one event object per line, oldest first)."""
        response = await self._conn.exchange("GET", self._feed("/export"), accept=NDJSON)
        return response.content

    async def feed_import(self, jsonl: str | bytes) -> int:
        """Import JSON Lines (the ``export`` format); all or nothing. Returns how many were
        imported. A bad line raises ``InvalidInput`` whose ``details["line"]`` is its number."""
        content = jsonl.encode() if isinstance(jsonl, str) else jsonl
        response = await self._conn.exchange(
            "POST", self._feed("/import"), content=content, content_type=NDJSON
        )
        return int(loads(response.content)["imported"])

    def feed_stream(
        self,
        *,
        agent: str | None = None,
        type: FeedType | str | None = None,
        since: str | None = None,
        reconnect: bool = True,
        on_connect: Callable[[str | None], None] | None = None,
        on_disconnect: Callable[[str, float], None] | None = None,
    ) -> FeedStream:
        """Live feed events, forever: ``async with ats.feed_stream(agent="x") as stream:
        async for event in stream: ...`` (closing it releases the connection at once).

        With ``since`` (an event id or an ISO time) the server first replays what came after it.
        ``on_connect(last_id)`` is called each time the stream is (re)connected, with the id of
        the last event yielded so far (None before the first); ``on_disconnect(reason, delay_s)``
        each time the connection is lost.
        """

        async def newest() -> str:
            events = await self.feed_list(limit=1)
            return events[-1].id if events else BEGINNING

        return FeedStream(
            follow_feed(
                self._conn,
                self._feed("/stream"),
                drop_none(agent=agent, type=_text(type)),
                since=since,
                newest=newest,
                reconnect=reconnect,
                on_connect=on_connect,
                on_disconnect=on_disconnect,
            )
        )


async def follow_feed(
    wire: Connection,
    path: str,
    filters: dict[str, str],
    *,
    since: str | None,
    newest: Callable[[], Awaitable[str]],
    reconnect: bool = True,
    backoff: Backoff | None = None,
    on_connect: Callable[[str | None], None] | None = None,
    on_disconnect: Callable[[str, float], None] | None = None,
) -> AsyncGenerator[FeedEvent, None]:
    """Yield every matching event after ``since`` (or after the newest one now), forever."""
    start = since if since is not None else await newest()
    last: str | None = None  # the id of the last event yielded
    wait = backoff or Backoff()
    wait.reset()
    first = True
    while True:
        headers = {"Accept": "text/event-stream"}
        params = dict(filters)
        if last is None:
            params["since"] = start
        else:
            headers["Last-Event-ID"] = last
        try:
            async with wire.stream(path, params, headers, READ_TIMEOUT) as response:
                if not response.is_success:
                    await response.aread()
                    error = error_of(response)
                    # A refusal (bad filter, unknown project) will not change by retrying; a
                    # proxy's 502 or a restarting server's 503 will.
                    if first or response.status_code < 500:
                        raise error
                    raise _Refused(f"HTTP {response.status_code}: {error.message}")
                wire.trace_line(f"< {response.status_code} {response.reason_phrase} (stream)")
                if on_connect is not None:
                    on_connect(last)
                first = False
                wait.reset()
                parser = SseParser()
                async for chunk in response.aiter_bytes():
                    for data in parser.feed(chunk):
                        event = _event(data)
                        if last is not None and event.id <= last:
                            continue  # ULIDs sort as text: this one was yielded already
                        last = event.id
                        yield event
            reason = "the server ended the stream"
        except (httpx.TransportError, _Refused) as exc:
            if first:
                raise Unavailable(
                    f"cannot reach the ATS feed stream at {redact.url(wire.url + path)} "
                    f"({_describe(exc)})"
                ) from exc
            reason = _describe(exc)
        if not reconnect:
            raise Unavailable(f"the feed stream ended: {reason}")
        delay = wait.delay()
        if on_disconnect is not None:
            on_disconnect(reason, delay)
        await asyncio.sleep(delay)


def _text(value: FeedType | str | None) -> str | None:
    return None if value is None else str(value)  # a FeedType's str() is its value


class _Refused(Exception):
    """A 5xx answer to a reconnection: retried like a lost connection."""


_EOL = re.compile(rb"\r\n|\r|\n")


class SseParser:
    """Server-sent events, incrementally: ``feed(chunk)`` yields the data of each complete frame.

    Lines are split on CR, LF and CRLF only, as the SSE format says. (httpx's ``aiter_lines``
    also splits on U+2028, U+0085 and other characters JSON leaves unescaped, which would cut
    an event whose summary contains one.) Comments (``: heartbeat``), ``id:``, ``event:`` and
    ``retry:`` carry nothing we need: the event's id is in its JSON.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        frames: list[bytes] = []
        buffer = self._buffer + chunk
        start = 0
        for match in _EOL.finditer(buffer):
            if match.group() == b"\r" and match.end() == len(buffer):
                break  # maybe the first half of a CRLF: wait for the next chunk
            line = buffer[start : match.start()]
            start = match.end()
            if not line:
                if self._data:
                    frames.append(b"\n".join(self._data))
                    self._data = []
                continue
            field, _, value = line.partition(b":")
            if field == b"data":
                self._data.append(value.removeprefix(b" "))
        self._buffer = buffer[start:]
        return frames


def _event(data: bytes) -> FeedEvent:
    try:
        return FeedEvent.from_json(loads(data))
    except (ValueError, KeyError, TypeError) as exc:
        raise AtsError(
            f"the feed stream sent something that is not an event: {data[:200]!r}"
        ) from exc


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
