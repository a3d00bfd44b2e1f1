"""SQLite event log: reading it in commit order, and retention in bounded steps.

SQLite commits one writer at a time, so ids are already in commit order; the horizon is computed
as on PostgreSQL (it never stops short here) and costs an index scan. One server process owns a
SQLite file, so there is nobody to wake (others sharing it are caught by polling).
"""

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
from ats.store.sqlite.catalog import ProjectPaths
from ats.store.sqlite.runner import Runner, dumps

TRIM_STEP = 1000  # event rows deleted per write transaction at most (see trim_events)


class SqliteEvents:
    """The :class:`~ats.store.ports.EventLog` port on SQLite."""

    def __init__(self, runner: Runner, paths: ProjectPaths) -> None:
        self.runner = runner
        self.paths = paths

    async def read(self, q: EventQuery, now: Millis) -> list[Event]:
        horizon = self._horizon(q.since, now)
        rows = self.runner.all(
            "events_after", since=q.since, horizon=horizon, project_id=q.project_id,
            channel=q.channel, task_type=q.task_type,
            types=dumps(list(q.types)) if q.types else None, task_id=q.task_id, limit=q.limit,
        )  # fmt: skip
        events = []
        for row in rows:
            snapshot = event_snapshot(row)
            task = task_from_row(snapshot, self.paths.get(snapshot["project_id"]))
            message = Message.from_json(row["message"]) if row["message"] else None
            events.append(event_from_row(row, task, message))
        return events

    async def latest_event_id(self, now: Millis) -> int:
        tail = self._tail(0)
        trimmed = 0
        if len(tail) <= TAIL_WINDOW and tail and tail[-1][0] > 1:
            trimmed = (await self.kept_events()).trimmed
        return settled_head(tail, now, trimmed)

    def _tail(self, since: int) -> list[tuple[int, int]]:
        rows = self.runner.all("event_tail", since=since, limit=TAIL_WINDOW + 1)
        return [(r["id"], r["created_at"]) for r in rows]

    def _horizon(self, since: int, now: Millis, again: bool = True) -> int:
        tail = self._tail(since)
        horizon = safe_horizon(tail, since, now)
        if horizon is None:
            scan = self.runner.all("event_ids_after", since=since, limit=FORWARD_WINDOW)
            horizon = contiguous_horizon([(r["id"], r["created_at"]) for r in scan], since, now)
        if again and stalled(tail, since, horizon):
            # The ids after ``since`` may have been trimmed: no gap to wait for, read past them.
            row = self.runner.one("events_kept")
            if row is not None and row["trimmed"] > since:
                return self._horizon(row["trimmed"], now, again=False)
        return horizon

    async def kept_events(self) -> Kept:
        row = self.runner.one("events_kept")
        return Kept(row["trimmed"], row["oldest"]) if row else Kept(0, None)

    async def trim_events(self, before: Millis, limit: int) -> int:
        # One bounded step per write transaction: statements run on the event loop, so the
        # caller yields between steps and writers take their turns (the write lock is FIFO).
        # Measured on 2 busy vCPUs with ~1 KB task snapshots: 500 rows ~1-9 ms, 1,000 ~2-35 ms,
        # 2,000 ~10-50 ms (the spikes are WAL checkpoints at commit).
        async with self.runner.write() as tx:
            row = tx.one("events_trim_bound", before=before, limit=min(limit, TRIM_STEP))
            span = trim_range(row) if row else None
            if span is None:
                return 0
            after, through = span
            deleted = tx.execute("events_trim", after=after, through=through)
            tx.execute("events_trimmed_set", through=through)
        return deleted

    def listen(self, on_change: Callable[[], None]) -> None:
        """One server process owns a SQLite file (others sharing it are caught by polling)."""

    def announce(self) -> None:
        """Nobody else to tell: see :meth:`listen`."""
