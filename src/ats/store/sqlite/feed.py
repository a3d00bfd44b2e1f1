"""SQLite activity feed: ids handed out inside the write transaction (one writer at a time)."""

from __future__ import annotations

import asyncio
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
from ats.store.sqlite.catalog import ProjectPaths
from ats.store.sqlite.runner import Runner, Statements, dumps
from ats.ulids import next_ids

TRIM_STEP = 2000  # rows deleted per write transaction


class SqliteFeed:
    """The :class:`~ats.store.ports.Feed` port on SQLite."""

    def __init__(self, runner: Runner, paths: ProjectPaths) -> None:
        self.runner = runner
        self.paths = paths

    async def publish_feed(self, items: list[NewFeedEvent], now: Millis) -> list[FeedEvent]:
        async with self.runner.write() as tx:
            last = tx.one("feed_lock")
            ids = next_ids(last["last_id"] if last else "", now, len(items))
            for event_id, i in zip(ids, items, strict=True):
                tx.execute(
                    "feed_insert", id=event_id, project_id=i.project_id, agent=i.agent,
                    type=i.type.value, summary=i.summary, detail=i.detail,
                    metadata=dumps(i.metadata), published_at=now,
                )  # fmt: skip
            tx.execute("feed_set_clock", last_id=ids[-1])
            for project_id, n in Counter(i.project_id for i in items).items():
                tx.execute("feed_count_add", project_id=project_id, n=n)
        return [
            published(event_id, i, now, self.paths.get(i.project_id))
            for event_id, i in zip(ids, items, strict=True)
        ]

    async def import_feed(self, project_id: int, events: list[FeedEvent]) -> int:
        def work(tx: Statements) -> int:
            added = 0
            for e in events:
                found = tx.all(
                    "feed_insert", id=e.id, project_id=project_id, agent=e.agent,
                    type=e.type.value, summary=e.summary, detail=e.detail,
                    metadata=dumps(e.metadata), published_at=e.timestamp,
                )  # fmt: skip
                added += len(found)
            if events:
                tx.execute("feed_set_clock", last_id=max(e.id for e in events))
            if added:
                tx.execute("feed_count_add", project_id=project_id, n=added)
            return added

        # An import may be a file of hundreds of thousands of events: written apart, so the
        # event loop goes on serving meanwhile (see ``Runner.write_apart``).
        return await self.runner.write_apart(work)

    async def trim_feed(self, keep: int) -> int:
        if keep <= 0:
            return 0
        gone = 0
        while True:
            # A bounded step per transaction: statements run on the event loop, and a trim
            # after a large import may have hundreds of thousands of rows to delete.
            async with self.runner.write() as tx:
                over = tx.all("feed_over", keep=keep)
                for row in over:
                    project_id = row["project_id"]
                    n = min(row["n"] - keep, TRIM_STEP)
                    deleted = tx.execute("feed_trim", project_id=project_id, n=n)
                    tx.execute("feed_count_sub", project_id=project_id, n=deleted)
                    gone += deleted
            if not over:
                return gone
            await asyncio.sleep(0)

    async def list_feed(self, q: FeedQuery) -> list[FeedEvent]:
        filters = {"project_id": q.project_id, "agent": q.agent, "type": q.type, "limit": q.limit}
        if q.after is None:
            rows = self.runner.all("feed_last", **filters)
        else:
            rows = self.runner.all("feed_after", after=q.after, **filters)
        return [feed_from_row(r, self.paths.get(r["project_id"])) for r in rows]

    async def get_feed_event(self, event_id: str, project_id: int | None) -> FeedEvent | None:
        row = self.runner.one("feed_get", event_id=event_id, project_id=project_id)
        return None if row is None else feed_from_row(row, self.paths.get(row["project_id"]))

    async def clear_feed(self, project_id: int | None) -> None:
        async with self.runner.write() as tx:
            tx.execute("feed_clear", project_id=project_id)
            tx.execute("feed_clear_counts", project_id=project_id)

    async def feed_stats(self, project_id: int | None) -> dict[str, Any]:
        latest = [
            feed_from_row(r, self.paths.get(r["project_id"]))
            for r in self.runner.all("feed_latest_per_agent", project_id=project_id)
        ]
        return feed_stats_document(
            self.runner.all("feed_by_agent", project_id=project_id),
            self.runner.all("feed_by_type", project_id=project_id),
            latest,
        )

    async def feed_head(self) -> str:
        row = self.runner.one("feed_head")
        return str(row["last_id"]) if row else ""
