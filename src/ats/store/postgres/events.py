"""PostgreSQL event log: reads in commit order, retention, and LISTEN/NOTIFY wake-ups."""

from __future__ import annotations

from collections.abc import Callable

from ats.models import Event, Message, Millis
from ats.store.base import (
    FORWARD_WINDOW,
    TAIL_WINDOW,
    EventQuery,
    Kept,
    contiguous_horizon,
    event_from_row,
    event_snapshot,
    safe_horizon,
    settled_head,
    stalled,
    task_from_row,
    trim_range,
)
from ats.store.postgres.rows import Paths, row_or_gone
from ats.store.postgres.runner import Handle, Record, Runner
from ats.store.postgres.signals import PgSignals


class PgEvents:
    """The :class:`~ats.store.ports.EventLog` port."""

    def __init__(self, runner: Runner, paths: Paths) -> None:
        self.runner = runner
        self.paths = paths  # the catalog's project-path cache
        self.signals: PgSignals | None = None  # the LISTEN connection, once someone listens
        self._listeners: list[Callable[[], None]] = []

    async def read(self, q: EventQuery, now: Millis) -> list[Event]:
        # Commit order is not id order on PostgreSQL: read only up to the first gap that a
        # transaction still in flight may fill (see safe_horizon).
        horizon = await self._horizon(q.since, now)
        if horizon <= q.since:
            return []
        rows = await self.runner.all(
            "events_after", since=q.since, horizon=horizon, project_id=q.project_id,
            channel=q.channel, task_type=q.task_type, types=list(q.types) or None,
            task_id=q.task_id, limit=q.limit,
        )  # fmt: skip
        return [await self._event_from(r) for r in rows]

    async def latest_event_id(self, now: Millis) -> int:
        rows = await self.runner.all("event_tail", since=0, limit=TAIL_WINDOW + 1)
        tail = [(r["id"], r["created_at"]) for r in rows]
        trimmed = 0
        if len(tail) <= TAIL_WINDOW and tail and tail[-1][0] > 1:
            trimmed = (await self.kept_events()).trimmed
        return settled_head(tail, now, trimmed)

    async def _horizon(self, since: int, now: Millis, again: bool = True) -> int:
        rows = await self.runner.all("event_tail", since=since, limit=TAIL_WINDOW + 1)
        tail = [(r["id"], r["created_at"]) for r in rows]
        horizon = safe_horizon(tail, since, now)
        if horizon is None:
            scan = await self.runner.all("event_ids_after", since=since, limit=FORWARD_WINDOW)
            horizon = contiguous_horizon([(r["id"], r["created_at"]) for r in scan], since, now)
        if again and stalled(tail, since, horizon):
            # The ids after ``since`` may have been trimmed: no gap to wait for, read past them.
            kept = await self.kept_events()
            if kept.trimmed > since:
                return await self._horizon(kept.trimmed, now, again=False)
        return horizon

    async def kept_events(self) -> Kept:
        row = await self.runner.one("events_kept")
        return Kept(row["trimmed"], row["oldest"]) if row else Kept(0, None)

    async def trim_events(self, before: Millis, limit: int) -> int:
        async def body(tx: Handle) -> int:
            if not await tx.value("pg_events_trim_lock"):
                return 0  # another server process is trimming
            bound = await tx.one("events_trim_bound", before=before, limit=limit)
            span = trim_range(row_or_gone(bound))
            if span is None:
                return 0
            status = await tx.execute("events_trim", after=span[0], through=span[1])
            await tx.execute("events_trimmed_set", through=span[1])
            return int(status.split()[-1])

        return await self.runner.transaction(body)

    async def _event_from(self, row: Record) -> Event:
        snapshot = event_snapshot(row)
        task = task_from_row(snapshot, await self.paths.project_path(snapshot["project_id"]))
        message = None
        if row["message"] is not None:
            message = Message.from_json(row["message"])
        return event_from_row(row, task, message)

    # --- wake-ups across processes --------------------------------------------------------------

    def listen(self, on_change: Callable[[], None]) -> None:
        """LISTEN on a dedicated connection; other processes' commits call ``on_change``."""
        self._listeners.append(on_change)
        if self.signals is None:
            self.signals = PgSignals(self.runner.url)
            self.signals.start(self._changed)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def announce(self) -> None:
        if self.signals is not None:
            self.signals.announce()

    async def close(self) -> None:
        if self.signals is not None:
            await self.signals.stop()
            self.signals = None
