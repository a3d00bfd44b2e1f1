"""The WebSocket fan-out fast path: one frame per event, written straight to each socket.

Sending through Starlette and uvicorn costs, per subscriber and per event, a task wake-up, the
ASGI message, and the frame built again by the websockets library. Every subscriber gets the very
same bytes, so the frame is built once per event (cached on the delivery) and, while a subscriber
is caught up, written to its transport by the bus itself — one ``write`` per subscriber for a whole
page of events.

It relies on uvicorn's sans-I/O WebSocket protocol (``ats serve`` selects it), whose ASGI ``send``
is a method of the protocol object holding ``transport``, ``writable`` (cleared while the
transport's buffer is above its high-water mark) and ``close_sent``. Under any other server the
writer is simply not available and the normal ASGI path is used. Frames the server writes are
never masked, and data frames carry no per-connection state, so writing them directly keeps the
protocol intact; anything else (pong, close, the handshake) still goes through uvicorn.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ats.service.bus import Delivery, Direct, Subscription

RAW_SEND = "ats.raw_send"
_TEXT_FIN = 0x81


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final text frame (RFC 6455 §5.2) carrying ``payload``."""
    n = len(payload)
    if n < 126:
        head = bytes((_TEXT_FIN, n))
    elif n < 1 << 16:
        head = struct.pack("!BBH", _TEXT_FIN, 126, n)
    else:
        head = struct.pack("!BBQ", _TEXT_FIN, 127, n)
    return head + payload


def frame_of(delivery: Delivery[Any]) -> bytes:
    frame = delivery.wire.get("ws")
    if frame is None:
        frame = delivery.wire["ws"] = text_frame(delivery.json)
    return frame


class KeepRawSend:
    """Outermost ASGI middleware: remember the server's own ``send`` of a WebSocket scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


def direct_writer(scope: Scope, sub: Subscription[Any]) -> Direct | None:
    """A :data:`~ats.service.bus.Direct` for this connection, or None where it cannot be had."""
    protocol: Any = getattr(scope.get(RAW_SEND), "__self__", None)
    transport = getattr(protocol, "transport", None)
    writable = getattr(protocol, "writable", None)
    if transport is None or not isinstance(writable, asyncio.Event):
        return None
    if not hasattr(protocol, "close_sent"):
        return None

    def write(batch: list[Delivery[Any]]) -> bool:
        if protocol.close_sent or transport.is_closing() or not writable.is_set():
            sub.direct = None  # back to the queue; the consumer re-arms this once caught up
            return False
        transport.write(b"".join([frame_of(d) for d in batch]))
        return True

    return write
