"""SQLite activity feed: ids handed out inside the write transaction (one writer at a time)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from typing import Any

from ats.models import FeedEvent, Millis
from ats.store.base import (
    FeedQuery,
    NewFeedEvent,
    feed_from_row,
    feed_stats_document,
    published,
)
from ats.store.sqlite.catalog import SqliteCatalog
from ats.store.sqlite.connection import Q, _dumps
from ats.ulids import next_ids

TRIM_STEP = 2000  # rows deleted per write transaction


class SqliteFeed(SqliteCatalog):
    async def publish_feed(self, items: list[NewFeedEvent], now: Millis) -> list[FeedEvent]:
        async with self._write():
            last = self._one("feed_lock")
            ids = next_ids(last["last_id"] if last else "", now, len(items))
            for event_id, i in zip(ids, items, strict=True):
                self._all(
                    "feed_insert", event_id, i.project_id, i.agent, i.type.value, i.summary,
                    i.detail, _dumps(i.metadata), now,
                )  # fmt: skip
            self._all("feed_set_clock", ids[-1])
            for project_id, n in Counter(i.project_id for i in items).items():
                self._all("feed_count_add", project_id, n)
        return [
            published(event_id, i, now, self.project_path(i.project_id))
            for event_id, i in zip(ids, items, strict=True)
        ]

    async def import_feed(self, project_id: int, events: list[FeedEvent]) -> int:
        def work(db: sqlite3.Connection) -> int:
            added = 0
            for e in events:
                row = (e.id, project_id, e.agent, e.type.value, e.summary, e.detail)
                found = db.execute(Q["feed_insert"], (*row, _dumps(e.metadata), e.timestamp))
                added += len(found.fetchall())
            if events:
                db.execute(Q["feed_set_clock"], (max(e.id for e in events),))
            if added:
                db.execute(Q["feed_count_add"], (project_id, added)).fetchall()
            return added

        # An import may be a file of hundreds of thousands of events: written apart, so the
        # event loop goes on serving meanwhile (see ``_write_apart``).
        return await self._write_apart(work)

    async def trim_feed(self, keep: int) -> int:
        if keep <= 0:
            return 0
        gone = 0
        while True:
            # A bounded step per transaction: statements run on the event loop, and a trim
            # after a large import may have hundreds of thousands of rows to delete.
            async with self._write():
                over = self._all("feed_over", keep)
                for row in over:
                    before = self.db.total_changes
                    self._all("feed_trim", row["project_id"], min(row["n"] - keep, TRIM_STEP))
                    deleted = self.db.total_changes - before
                    self._all("feed_count_sub", row["project_id"], deleted)
                    gone += deleted
            if not over:
                return gone
            await asyncio.sleep(0)

    async def list_feed(self, q: FeedQuery) -> list[FeedEvent]:
        if q.after is None:
            rows = self._all("feed_last", q.project_id, q.agent, q.type, q.limit)
        else:
            rows = self._all("feed_after", q.after, q.project_id, q.agent, q.type, q.limit)
        return [feed_from_row(r, self.project_path(r["project_id"])) for r in rows]

    async def get_feed_event(self, event_id: str, project_id: int | None) -> FeedEvent | None:
        row = self._one("feed_get", event_id, project_id)
        return None if row is None else feed_from_row(row, self.project_path(row["project_id"]))

    async def clear_feed(self, project_id: int | None) -> None:
        async with self._write():
            self._all("feed_clear", project_id)
            self._all("feed_clear_counts", project_id)

    async def feed_stats(self, project_id: int | None) -> dict[str, Any]:
        latest = [
            feed_from_row(r, self.project_path(r["project_id"]))
            for r in self._all("feed_latest_per_agent", project_id)
        ]
        return feed_stats_document(
            self._all("feed_by_agent", project_id), self._all("feed_by_type", project_id), latest
        )

    async def feed_head(self) -> str:
        row = self._one("feed_head")
        return str(row["last_id"]) if row else ""
