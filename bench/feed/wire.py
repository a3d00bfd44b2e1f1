"""A lean SSE client for ``GET /feed/stream`` (SPEC §7), for the feed benchmark's subscribers.

Same reasoning as bench/events/wire.py: 200 subscribers share the 2 cores with the server, so what a
subscriber spends per event is taken from the server being measured. This is an
``asyncio.Protocol`` that undoes the chunked transfer encoding and splits SSE frames in a loop over
everything one ``data_received`` brought, stamping them all with one clock reading. Measured
with 100 subscribers in one uvloop process at 10,000 deliveries/s: ~21 µs of CPU per delivery,
against ~26 µs for asyncio streams (``readline`` / ``readexactly`` per chunk) and ~46 µs for
httpx's ``aiter_lines`` (README.md, "Feed", "Choice of subscriber client").

It speaks only what the benchmark needs, against a loopback server: one GET, a 200 answer with
``Transfer-Encoding: chunked`` (what uvicorn sends for a streaming response), frames made of
``id:`` / ``data:`` lines (one ``data:`` line each, as the server writes them) and ``:`` comments.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import cast

HOST = "127.0.0.1"
ANSWER_TIMEOUT = 30.0  # seconds for the response head on a loaded server

# (event id, the data line, receipt time)
OnEvent = Callable[[bytes, bytes, float], None]


class SseError(Exception):
    """The server answered something this client does not speak."""


class SseClient(asyncio.Protocol):
    """One stream. Events go to ``on_event(id, data, receipt_time)``; ``heartbeats`` counts the
    comments. ``ended`` resolves to True when the server ended the stream (the last chunk), False
    when the connection went away without it."""

    def __init__(self, on_event: OnEvent, path: str, last_event_id: str | None) -> None:
        loop = asyncio.get_running_loop()
        self.on_event = on_event
        self.ended: asyncio.Future[bool] = loop.create_future()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.heartbeats = 0
        self.error: str | None = None  # why this client hung up by itself
        self._path = path
        self._last = last_event_id
        self._raw = bytearray()  # as received: the head, then chunks
        self._text = bytearray()  # the chunks' payloads: SSE text
        self._finished = False  # the zero-length chunk came

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        resume = b"Last-Event-ID: %s\r\n" % self._last.encode() if self._last else b""
        self.transport.write(
            b"GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n%s\r\n"
            % (self._path.encode(), HOST.encode(), resume)
        )

    def data_received(self, data: bytes) -> None:
        self._raw += data
        if not self.opened.done() and not self._head():
            return
        # One clock reading for everything that arrived together: the same clock as the
        # publisher's time.time() in the event's metadata (another process on the same machine).
        try:
            self._chunks()
            self._frames(time.time())
        except Exception as exc:  # a chunk or a frame we cannot read: report, hang up
            self.error = f"{type(exc).__name__}: {exc}"
            assert self.transport is not None
            self.transport.abort()
            return
        if self._finished:
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(SseError(f"connection lost before the answer: {exc}"))
        if not self.ended.done():
            self.ended.set_result(self._finished)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # --- the wire ---------------------------------------------------------------------------

    def _head(self) -> bool:
        end = self._raw.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self._raw[:end]).split(b"\r\n")
        del self._raw[: end + 4]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        problem = None
        if lines[0].split(b" ", 2)[1:2] != [b"200"]:
            problem = f"answered {lines[0]!r}"
        elif not headers.get(b"content-type", b"").startswith(b"text/event-stream"):
            problem = f"content-type {headers.get(b'content-type')!r}"
        elif headers.get(b"transfer-encoding") != b"chunked":
            problem = "the stream is not chunked"
        if problem is not None:
            self.opened.set_exception(SseError(problem))
            assert self.transport is not None
            self.transport.close()
            return False
        self.opened.set_result(None)
        return True

    def _chunks(self) -> None:
        """Move every complete chunk's payload from the raw buffer to the SSE text."""
        raw, pos = self._raw, 0
        while not self._finished:
            line_end = raw.find(b"\r\n", pos)
            if line_end < 0:
                break
            size = int(raw[pos:line_end].split(b";", 1)[0], 16)
            start = line_end + 2
            stop = start + size
            if len(raw) < stop + 2:
                break  # wait for the whole chunk and its CRLF
            if raw[stop : stop + 2] != b"\r\n":
                raise SseError("a chunk does not end with CRLF")
            if size == 0:
                self._finished = True  # (no trailers: uvicorn sends none)
            else:
                self._text += raw[start:stop]
            pos = stop + 2
        del raw[:pos]

    def _frames(self, now: float) -> None:
        """Every complete frame of the SSE text, all stamped with the same receipt time."""
        text, pos = self._text, 0
        while (end := text.find(b"\n\n", pos)) >= 0:
            frame = bytes(text[pos:end])
            pos = end + 2
            if frame.startswith(b":"):
                self.heartbeats += 1
                continue
            event_id, data = b"", b""
            for line in frame.split(b"\n"):
                if line.startswith(b"id: "):
                    event_id = line[4:]
                elif line.startswith(b"data: "):
                    data = line[6:]
                elif not line.startswith(b":"):
                    raise SseError(f"a line this client does not expect: {line[:100]!r}")
            if not event_id or not data:
                raise SseError(f"a frame without id or data: {frame[:200]!r}")
            self.on_event(event_id, data, now)
        del text[:pos]


async def open_sse(
    port: int, on_event: OnEvent, query: str = "", last_event_id: str | None = None
) -> SseClient:
    """Connect, send the GET and wait for the 200 head: the server subscribes before it answers
    (SPEC §7, subscribe before replay), so from then on nothing published is missed."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, (HOST, port))
        path = "/feed/stream" + (f"?{query}" if query else "")
        _, client = await loop.create_connection(
            lambda: SseClient(on_event, path, last_event_id), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT):
            await client.opened
    except BaseException:
        client.close()
        raise
    return client
