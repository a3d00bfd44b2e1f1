"""PostgreSQL activity feed: ids handed out under the ``feed_clock`` row lock (commit order)."""

from __future__ import annotations

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
from ats.store.postgres.rows import Paths
from ats.store.postgres.runner import Handle, Runner
from ats.ulids import next_ids

CHUNK = 5000


class PgFeed:
    """The :class:`~ats.store.ports.Feed` port."""

    def __init__(self, runner: Runner, paths: Paths) -> None:
        self.runner = runner
        self.paths = paths  # the catalog's project-path cache
        self._clock: str | None = None  # the feed clock as this process last set it
        self._trimmed = 0  # feed rows this process deleted since upkeep last vacuumed them

    def take_trimmed(self) -> int:
        """How many feed rows this process deleted since the last call (upkeep vacuums them)."""
        trimmed, self._trimmed = self._trimmed, 0
        return trimmed

    async def publish_feed(self, items: list[NewFeedEvent], now: Millis) -> list[FeedEvent]:
        """One statement when this process's idea of the clock is right (it is, unless another
        process published since); otherwise a transaction that locks the clock row first."""
        last = self._clock
        counts: list[tuple[int, int]] = []
        if last is not None:
            ids = next_ids(last, now, len(items))
            rows = await self.runner.all(
                "pg_feed_publish", **_columns(ids, items, now), last_id=ids[-1], clock=last
            )
            counts = [(r["project_id"], r["n"]) for r in rows]
        if not counts:
            ids, counts = await self.runner.transaction(lambda tx: _publish_locked(tx, items, now))
        self._clock = ids[-1]
        return [
            published(event_id, i, now, await self.paths.project_path(i.project_id))
            for event_id, i in zip(ids, items, strict=True)
        ]

    async def trim_feed(self, keep: int) -> int:
        if keep <= 0:
            return 0

        async def body(tx: Handle) -> int:
            gone = 0
            if not await tx.value("pg_feed_trim_lock"):
                return 0  # another process is at it
            for row in await tx.all("feed_over", keep=keep):
                project_id = row["project_id"]
                status = await tx.execute("feed_trim", project_id=project_id, n=row["n"] - keep)
                deleted = int(status.split()[-1])
                await tx.execute("feed_count_sub", project_id=project_id, n=deleted)
                gone += deleted
            return gone

        gone = await self.runner.transaction(body)
        self._trimmed += gone  # tidy vacuums them (upkeep.py)
        return gone

    async def import_feed(self, project_id: int, events: list[FeedEvent]) -> int:
        async def body(tx: Handle) -> int:
            added = 0
            await tx.value("feed_lock")
            for start in range(0, len(events), CHUNK):
                part = events[start : start + CHUNK]
                rows = await tx.all(
                    "feed_insert", ids=[e.id for e in part], project_ids=[project_id] * len(part),
                    agents=[e.agent for e in part], types=[e.type.value for e in part],
                    summaries=[e.summary for e in part], details=[e.detail for e in part],
                    metadata=[e.metadata for e in part], published_at=[e.timestamp for e in part],
                )  # fmt: skip
                added += len(rows)
            if events:
                await tx.execute("feed_set_clock", last_id=max(e.id for e in events))
            if added:
                await tx.value("feed_count_add", project_id=project_id, n=added)
            return added

        added = await self.runner.transaction(body)
        self._clock = None
        return added

    async def list_feed(self, q: FeedQuery) -> list[FeedEvent]:
        filters = {"project_id": q.project_id, "agent": q.agent, "type": q.type, "limit": q.limit}
        if q.after is None:
            rows = await self.runner.all("feed_last", **filters)
        else:
            rows = await self.runner.all("feed_after", after=q.after, **filters)
        return [feed_from_row(r, await self.paths.project_path(r["project_id"])) for r in rows]

    async def get_feed_event(self, event_id: str, project_id: int | None) -> FeedEvent | None:
        row = await self.runner.one("feed_get", event_id=event_id, project_id=project_id)
        if row is None:
            return None
        return feed_from_row(row, await self.paths.project_path(row["project_id"]))

    async def clear_feed(self, project_id: int | None) -> None:
        async def body(tx: Handle) -> None:
            await tx.value("feed_lock")  # not while a publish is counting
            await tx.execute("feed_clear", project_id=project_id)
            await tx.execute("feed_clear_counts", project_id=project_id)

        await self.runner.transaction(body)
        self._clock = None

    async def feed_stats(self, project_id: int | None) -> dict[str, Any]:
        by_agent = await self.runner.all("feed_by_agent", project_id=project_id)
        by_type = await self.runner.all("feed_by_type", project_id=project_id)
        latest = await self.runner.all("feed_latest_per_agent", project_id=project_id)
        events = [feed_from_row(r, await self.paths.project_path(r["project_id"])) for r in latest]
        return feed_stats_document(by_agent, by_type, events)

    async def feed_head(self) -> str:
        return str(await self.runner.value("feed_head"))


async def _publish_locked(
    tx: Handle, items: list[NewFeedEvent], now: Millis
) -> tuple[list[str], list[tuple[int, int]]]:
    """Publish after locking the clock row: the ids follow the clock as committed."""
    counts = []
    ids = next_ids(await tx.value("feed_lock"), now, len(items))
    await tx.all("feed_insert", **_columns(ids, items, now))
    await tx.execute("feed_set_clock", last_id=ids[-1])
    for project_id, n in Counter(i.project_id for i in items).items():
        counts.append((project_id, await tx.value("feed_count_add", project_id=project_id, n=n)))
    return ids, counts


def _columns(ids: list[str], items: list[NewFeedEvent], now: Millis) -> dict[str, list[Any]]:
    """The insert's arrays, one per column."""
    return {
        "ids": ids,
        "project_ids": [i.project_id for i in items],
        "agents": [i.agent for i in items],
        "types": [i.type.value for i in items],
        "summaries": [i.summary for i in items],
        "details": [i.detail for i in items],
        "metadata": [i.metadata for i in items],
        "published_at": [now] * len(items),
    }
