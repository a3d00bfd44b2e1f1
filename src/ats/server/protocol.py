"""The HTTP/1.1 protocol ``ats serve`` runs: uvicorn's httptools protocol with connection limits.

Why: uvicorn reads a request head with no deadline and no size limit, and takes every connection
the kernel hands it. A client that connects and sends nothing (or half a request line, or headers
one byte at a time) holds a file descriptor for ever; a thousand of them exhaust the open-file
limit and the server stops answering anyone. Malformed HTTP gets a text/plain answer, where every
answer of ATS is JSON. This protocol adds, per server process:

- a head deadline: a request's head (request line and header fields) must be complete within
  ``header_timeout`` seconds, counted from the connection's start for its first request and from
  the first byte of each later request on a keep-alive connection (uvicorn's ``timeout_keep_alive``
  still bounds the idle time between requests). Late connections are closed without an answer.
- a head size limit: more than ``MAX_HEADER_FIELDS`` fields or ``MAX_HEAD_BYTES`` bytes → 431,
  then the connection is closed. Browsers send ~20 fields and a few KiB, cookies included; nginx
  and Node allow 8 to 16 KiB by default, so 64 KiB leaves room for long tokens without letting a
  client make the server buffer megabytes.
- a connection cap: a connection arriving at the cap evicts the one that has waited longest with
  no request in progress — a refused one being drained first, then one still sending its head
  (half-open, slowloris), then an idle keep-alive one (clients reopen those). When every
  connection is busy (requests in flight, WebSockets), the newcomer gets 503 and is closed. So
  ``/health`` keeps answering while someone holds connections open. The cap stays
  ``FILE_HEADROOM`` below the open-file limit, so the process keeps descriptors for its database.
- malformed HTTP → 400 with a JSON body.

The cost is per parser callback, never per byte: a few dict operations per request. Deadlines
cost no timer per request: connections waiting for a head sit in a dict in arrival order, and one
timer per process sweeps its front every ``header_timeout / 10`` s (at most 1 s).

uvicorn internals this relies on (``HttpToolsProtocol``, uvicorn 0.55): the constructor's
signature; ``server_state.connections`` (every open protocol of the process, WebSockets
included); the parser callbacks ``on_message_begin``, ``on_url``, ``on_header`` and
``on_headers_complete``; ``on_response_complete``, called once a response is fully written;
the attributes ``cycle``, ``parser``, ``transport``, ``logger``, ``server_state``, and the methods
``_unset_keepalive_if_required``, ``_should_upgrade``, ``handle_websocket_upgrade`` and
``_unsupported_upgrade_warning``. ``data_received`` is replaced by one doing the same steps plus
the head byte count; it cancels the keep-alive timer when a request begins rather than on any
byte, so stray CRLFs cannot keep an idle connection for ever. A WebSocket upgrade leaves this
protocol at the end of the head exactly as before, so ``ats.server.frames`` still writes to the
sans-I/O WebSocket protocol's transport.

The limits travel in the environment (``ATS_HEADER_TIMEOUT``, ``ATS_MAX_CONNECTIONS``, set by
:func:`configure`): uvicorn builds this class itself, in every worker process it spawns.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
import weakref
from typing import Any

import httptools
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 2048
MAX_HEADER_FIELDS = 100
MAX_HEAD_BYTES = 64 * 1024
# Descriptors kept out of the cap: the listener, database connections (pool + LISTEN), SQLite's
# three files, log files, the event loop's own.
FILE_HEADROOM = 128
# How long a refused connection is read and dropped after its answer, so that a client still
# sending its request reads the answer instead of a reset.
DRAIN_SECONDS = 2.0

# One answer for a long request target too: both are parts of the head the limit is about.
_HEAD_TOO_LARGE = (
    f"request head too large (limit {MAX_HEADER_FIELDS} header fields, {MAX_HEAD_BYTES} bytes)"
)


def configure(*, header_timeout: float, max_connections: int) -> int:
    """Set the limits for this process and its workers; raise the file limit; return the cap."""
    os.environ["ATS_HEADER_TIMEOUT"] = repr(header_timeout)
    os.environ["ATS_MAX_CONNECTIONS"] = str(max_connections)
    files = raise_file_limit()
    cap = connection_cap(max_connections, files)
    if cap < max_connections:
        print(
            f"ats serve: at most {cap} connections per process (open-file limit {files})",
            file=sys.stderr,
            flush=True,
        )
    return cap


def raise_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        # macOS refuses an unlimited hard limit: the soft one then stays.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft


def connection_cap(max_connections: int, file_limit: int) -> int:
    if file_limit == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, file_limit - FILE_HEADROOM))


class HeadTooLarge(Exception):
    """Raised from a parser callback; httptools re-raises it as the ``__context__`` of its error."""


class _Gate:
    """Admission and deadlines for the connections of one server process.

    Each dict holds the connections in one state with no request in progress, oldest first
    (dicts keep insertion order), so the front is both the next to expire and the first to evict.
    """

    def __init__(self, connections: set[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.connections = connections
        self.loop = loop
        self.header_timeout = float(os.environ.get("ATS_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT))
        wanted = int(os.environ.get("ATS_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS))
        self.cap = connection_cap(wanted, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        self.draining: dict[LimitedHttpProtocol, float] = {}  # refused, answer sent → since
        self.heading: dict[LimitedHttpProtocol, float] = {}  # head not complete → since
        self.idle: dict[LimitedHttpProtocol, None] = {}  # keep-alive between requests
        self.tick = min(1.0, max(0.05, self.header_timeout / 10))
        loop.call_later(self.tick, self._sweep)

    def admit(self, conn: LimitedHttpProtocol) -> bool:
        """Make room for a new connection (``connections`` already holds it), or say no."""
        if len(self.connections) > self.cap:
            victim = next(iter(self.draining or self.heading or self.idle), None)
            if victim is None:
                return False
            self.forget(victim)
            victim.transport.abort()
        self.heading[conn] = self.loop.time()
        return True

    def forget(self, conn: LimitedHttpProtocol) -> None:
        self.draining.pop(conn, None)
        self.heading.pop(conn, None)
        self.idle.pop(conn, None)

    def _sweep(self) -> None:
        now = self.loop.time()
        _expire(self.heading, now - self.header_timeout)
        _expire(self.draining, now - DRAIN_SECONDS)
        self.loop.call_later(self.tick, self._sweep)


def _expire(waiting: dict[LimitedHttpProtocol, float], started_before: float) -> None:
    late = []
    for conn, since in waiting.items():
        if since > started_before:
            break
        late.append(conn)
    for conn in late:
        del waiting[conn]
        conn.transport.abort()  # close() would wait for a reader that may never read


_GATES: weakref.WeakKeyDictionary[ServerState, _Gate] = weakref.WeakKeyDictionary()


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline, head limits and a connection cap."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        gate = _GATES.get(server_state)
        if gate is None:
            gate = _GATES[server_state] = _Gate(server_state.connections, self.loop)
        self.gate = gate
        self.head_open = False  # a request has begun and its head is not complete
        self.head_fields = 0
        self.head_bytes = 0  # request target + field names and values, as parsed
        self.head_received = 0  # raw bytes of the reads that left the head incomplete
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.gate.admit(self):
            self._refuse(503, "server at its connection limit, retry later", "unavailable")

    def connection_lost(self, exc: Exception | None) -> None:
        self.gate.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # draining: the answer is out, what follows is dropped
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                self._refuse(431, _HEAD_TOO_LARGE, "too_large")
            else:
                self.logger.info("malformed HTTP request: %s", exc)
                self._refuse(400, f"malformed HTTP request: {exc}", "invalid")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self.head_open:
            # httptools buffers a header field until its end: count what it holds meanwhile.
            self.head_received += len(data)
            if self.head_received > MAX_HEAD_BYTES:
                self._refuse(431, _HEAD_TOO_LARGE, "too_large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._unset_keepalive_if_required()
        self.head_open = True
        self.head_fields = self.head_bytes = 0
        gate = self.gate
        if self in gate.idle:
            del gate.idle[self]
            gate.heading[self] = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self.head_bytes += len(url)
        if self.head_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_fields += 1
        self.head_bytes += len(name) + len(value)
        if self.head_fields > MAX_HEADER_FIELDS or self.head_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.head_open = False
        self.head_received = 0
        self.gate.heading.pop(self, None)
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or not self.cycle.response_complete:
            return  # closing, or a pipelined request has started
        if self.head_open:
            # The next request began while this one ran: its head is on the clock from now on,
            # instead of the keep-alive timer uvicorn has just armed.
            self._unset_keepalive_if_required()
            self.gate.heading[self] = self.loop.time()
        else:
            self.gate.idle[self] = None

    def _refuse(self, status: int, error: str, code: str) -> None:
        """Answer ``status`` with a JSON error and close (draining first when the answer has a
        request to answer)."""
        self.refused = True
        self.gate.forget(self)
        transport = self.transport
        if self.cycle is not None and not self.cycle.response_complete:
            transport.close()  # a pipelined request is mid-response: no room for another answer
            return
        body = orjson.dumps({"error": error, "code": code})
        out = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            out += [name, b": ", value, b"\r\n"]
        out.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
        out += [b"connection: close\r\n\r\n", body]
        transport.write(b"".join(out))
        if status == 503 or not transport.can_write_eof():
            # A refused newcomer has sent nothing yet; it gets no grace time, which would hold
            # a descriptor beyond the cap.
            transport.close()
            return
        transport.write_eof()
        self.gate.draining[self] = self.loop.time()
