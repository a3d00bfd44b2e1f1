"""Cross-process wake-ups for the event log: LISTEN/NOTIFY on one dedicated connection.

A notification carries no data; it only says "the log grew, read it". The log stays the source of
truth, so a lost notification (the connection dropped, the process was busy) costs latency, never
an event: readers also poll, and after every reconnect the owner is told to read at once.

Announcements are coalesced: while one NOTIFY is on its way, further commits only mark another
one as due, so a burst of thousands of commits costs a handful of notifications, and the
transactions that write tasks never carry a NOTIFY themselves (a NOTIFY in a transaction takes a
global lock at commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from ats.store import sql

log = logging.getLogger("ats.store.signals")
CHANNEL = "ats_events"
# Sent on this module's own connection (the pool's runner is not involved: no retries here).
NOTIFY, NOTIFY_ARGS = sql.bind(
    sql.load("ats.store.postgres")["pg_notify_events"], {"channel": CHANNEL}
)
MIN_GAP_S = 0.001  # at most ~1,000 notifications a second per process, however busy
MAX_BACKOFF_S = 5.0


class PgSignals:
    def __init__(self, url: str) -> None:
        self.url = url
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # set while LISTEN is active (tests wait on it)
        self.sent = 0  # notifications sent by this process

    def start(self, on_change: Callable[[], None]) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(on_change), name="ats-pg-signals")

    def announce(self) -> None:
        """This process committed events: tell the other processes (coalesced)."""
        if self._task is not None:
            self._due.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, on_change: Callable[[], None]) -> None:
        backoff = 0.1
        while True:
            try:
                await self._session(on_change)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever a dying connection throws (asyncpg's InternalClientError is neither a
                # PostgresError nor an InterfaceError): this loop must outlive every outage.
                log.warning("event notifications unavailable (%s); retrying in %.1fs", exc, backoff)
            self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _session(self, on_change: Callable[[], None]) -> None:
        conn = await asyncpg.connect(self.url)
        lost = asyncio.Event()
        try:
            own = conn.get_server_pid()

            def heard(_c: object, pid: int, _channel: str, _payload: object) -> None:
                if pid != own:
                    on_change()

            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(CHANNEL, heard)
            self.connected.set()
            on_change()  # notifications may have been missed while not listening
            while not lost.is_set():
                await _first(self._due.wait(), lost.wait())
                if lost.is_set():
                    return
                self._due.clear()
                await conn.execute(NOTIFY, *NOTIFY_ARGS)
                self.sent += 1
                await asyncio.sleep(MIN_GAP_S)
        finally:
            self.connected.clear()
            if not conn.is_closed():
                try:
                    async with asyncio.timeout(1.0):
                        await conn.close()
                except Exception:  # the connection is broken anyway
                    conn.terminate()


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
