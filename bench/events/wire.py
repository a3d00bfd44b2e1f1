"""A lean WebSocket client for ``/ws`` (SPEC §4), for the event benchmark's subscribers.

Why not ``websockets.asyncio.client``: 500 subscribers at tens of thousands of deliveries per
second share the 2 cores with the server, so what a subscriber spends per frame is taken from the
server being measured. This client is an ``asyncio.Protocol`` that parses every frame that
arrived in one ``data_received`` call in a tight loop and stamps them all with one clock reading.
Measured with 125 subscribers in one process at 30,000 deliveries/s: ~9 µs of user CPU per
delivery (parsing the envelope and counting included) against ~23 µs for ``async for`` over the
library's connection; the kernel's share (~7 µs) is the same for both (README.md, "Choice of
subscriber client").

It speaks only what the benchmark needs, against a loopback server: no extensions (so no
compression), text frames (fragmented or not), ping → pong, and the close handshake.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import socket
import time
from collections.abc import Callable
from typing import Any, cast

import orjson

HOST = "127.0.0.1"
# RFC 6455 §1.3: the server proves it read our key by hashing it with this fixed GUID.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CONTROL = frozenset({"connected", "subscribed", "pong"})
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
ABNORMAL = 1006  # what a close without a close frame is reported as
ANSWER_TIMEOUT = 30.0  # seconds for connected / subscribed on a loaded server

OnEvent = Callable[[dict[str, Any], float], None]


class WsError(Exception):
    """The server answered something this client does not speak."""


class WsClient(asyncio.Protocol):
    """One connection. Event envelopes go to ``on_event(envelope, receipt_time)``; the other
    messages (connected, subscribed, pong) to ``control``. ``closed`` resolves to the close code.
    """

    def __init__(self, on_event: OnEvent, query: str) -> None:
        loop = asyncio.get_running_loop()
        self.on_event = on_event
        self.control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: asyncio.Future[int] = loop.create_future()
        self.upgraded: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._query = query
        self._key = base64.b64encode(os.urandom(16))
        self._buffer = bytearray()
        self._fragments: bytearray | None = None
        self._close_sent = False
        self.error: str | None = None  # why this client hung up by itself

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self.transport.write(
            b"GET /ws?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (self._query.encode(), HOST.encode(), self._key)
        )

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self.upgraded.done() and not self._upgrade():
            return
        # One clock reading for everything that arrived together: the same clock as the
        # creator's time.time() in the task payload (another process on the same machine).
        try:
            self._frames(time.time())
        except Exception as exc:  # a frame or an envelope we cannot read: report, hang up
            self.error = f"{type(exc).__name__}: {exc}"
            assert self.transport is not None
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(WsError(f"connection lost during the upgrade: {exc}"))
        if not self.closed.done():
            self.closed.set_result(ABNORMAL)

    # --- what the benchmark calls -----------------------------------------------------------

    async def expect(self, kind: str) -> dict[str, Any]:
        """The next control message, which must be of type ``kind``."""
        async with asyncio.timeout(ANSWER_TIMEOUT):
            message = await self.control.get()
        if message.get("type") != kind:
            raise WsError(f"expected {kind!r}, got {message!r}")
        return message

    async def subscribe(self, frame: dict[str, Any]) -> None:
        self.send_text(orjson.dumps({"type": "subscribe", **frame}))
        ack = await self.expect("subscribed")
        if ack.get("id") != frame.get("id"):
            raise WsError(f"subscribed answers id {ack.get('id')!r}, not {frame.get('id')!r}")

    def send_text(self, payload: bytes) -> None:
        self._send(OP_TEXT, payload)

    def close(self, code: int = 1000) -> None:
        """Start the close handshake; ``closed`` resolves when the server answers."""
        if not self._close_sent and self.transport is not None and not self.transport.is_closing():
            self._close_sent = True
            self._send(OP_CLOSE, code.to_bytes(2, "big"))

    # --- the wire ---------------------------------------------------------------------------

    def _upgrade(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end]).split(b"\r\n")
        del self._buffer[: end + 4]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1(self._key + _ACCEPT_GUID).digest())
        if b" 101 " not in head[0] + b" " or headers.get(b"sec-websocket-accept") != expected:
            self.upgraded.set_exception(WsError(f"upgrade refused: {head[0]!r}"))
            assert self.transport is not None
            self.transport.close()
            return False
        self.upgraded.set_result(None)
        return True

    def _frames(self, now: float) -> None:
        """Every complete frame in the buffer, all stamped with the same receipt time."""
        buf = self._buffer
        pos, end = 0, len(buf)
        while end - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if end - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if second & 0x80:
                raise WsError("the server masked a frame (RFC 6455 §5.1 forbids it)")
            stop = pos + head + length
            if stop > end:
                break
            self._frame(first & 0x80, first & 0x0F, buf[pos + head : stop], now)
            pos = stop
        del buf[:pos]

    def _frame(self, fin: int, opcode: int, payload: bytearray, now: float) -> None:
        if opcode == OP_TEXT and fin:
            self._message(payload, now)
        elif opcode in (OP_TEXT, OP_CONT):
            self._fragments = (self._fragments or bytearray()) + payload
            if fin:
                whole, self._fragments = self._fragments, None
                self._message(whole, now)
        elif opcode == OP_PING:
            self._send(OP_PONG, bytes(payload))
        elif opcode == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.close(code)  # the echo, unless we started the handshake
            assert self.transport is not None
            self.transport.close()
            if not self.closed.done():
                self.closed.set_result(code)
        elif opcode == OP_BINARY:
            raise WsError("the server sent a binary frame (SPEC §4: JSON text only)")

    def _message(self, payload: bytearray, now: float) -> None:
        message = orjson.loads(payload)
        if message.get("type") in _CONTROL:
            self.control.put_nowait(message)
        else:
            self.on_event(message, now)

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client frame: always masked (RFC 6455 §5.3)."""
        assert self.transport is not None
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 1 << 16:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.transport.write(head + mask + masked)


async def open_ws(
    port: int, actor_id: str, on_event: OnEvent, receive_buffer: int | None = None
) -> WsClient:
    """Connect, upgrade and wait for ``{"type":"connected"}``.

    ``receive_buffer`` sets SO_RCVBUF before connecting (it caps the TCP window only if set
    before the handshake): the never-reading subscriber uses it to push back on the server soon.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await loop.sock_connect(sock, (HOST, port))
        query = f"actor_type=agent&actor_id={actor_id}&actor_name=Bench"
        _, client = await loop.create_connection(lambda: WsClient(on_event, query), sock=sock)
    except BaseException:
        sock.close()
        raise
    try:
        async with asyncio.timeout(30.0):
            await client.upgraded
        await client.expect("connected")
    except BaseException:
        client.close()
        raise
    return client


async def close_all(clients: list[WsClient], grace: float = 5.0) -> None:
    """Close handshakes in parallel; a server that does not answer is hung up on."""
    for client in clients:
        client.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            await asyncio.gather(*(c.closed for c in clients))
    for client in clients:
        if client.transport is not None and not client.closed.done():
            client.transport.abort()
