"""Following a live stream from the command line (``ats watch``, ``ats feed tail``).

One line per item on stdout, flushed at once (daemons read it through a pipe); notices about
connecting and reconnecting on stderr. Ctrl-C and SIGTERM end it with exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from ats.cli import render
from ats.cli.session import Session, run_async
from ats.client import AsyncClient
from ats.client.stream import LiveStream

T = TypeVar("T")
OnConnect = Callable[[Any], None]
OnDisconnect = Callable[[str, float], None]
Open = Callable[[AsyncClient, OnConnect, OnDisconnect], LiveStream[T]]


def follow(
    s: Session,
    open_stream: Open[T],
    line: Callable[[T], str],
    *,
    following: str,
    resumed: Callable[[Any], str],
) -> None:
    """Print ``line(item)`` for every item of the stream ``open_stream`` opens, until stopped.

    ``following`` is said once the first subscription is in place; ``resumed(last)`` after
    each reconnection.
    """
    with contextlib.suppress(KeyboardInterrupt):
        run_async(_follow(s, open_stream, line, following, resumed))


async def _follow(
    s: Session,
    open_stream: Open[T],
    line: Callable[[T], str],
    following: str,
    resumed: Callable[[Any], str],
) -> None:
    me = asyncio.current_task()
    assert me is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, me.cancel)
    connections = 0

    def connected(last: Any) -> None:
        nonlocal connections
        connections += 1
        render.notice(following if connections == 1 else resumed(last))

    def disconnected(reason: str, delay: float) -> None:
        render.notice(f"Disconnected ({reason}); reconnecting in {delay:.1f}s")

    out = sys.stdout
    async with s.client() as client:
        stream = open_stream(client, connected, disconnected)
        with contextlib.suppress(asyncio.CancelledError):
            async with stream:
                async for item in stream:
                    out.write(line(item))
                    out.flush()
