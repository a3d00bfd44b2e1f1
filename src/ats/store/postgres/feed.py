"""PostgreSQL activity feed: ids handed out under the ``feed_clock`` row lock (commit order)."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

from ats.models import FeedEvent, Millis
from ats.store.base import (
    FeedQuery,
    NewFeedEvent,
    feed_from_row,
    feed_stats_document,
    published,
)
from ats.store.postgres.catalog import PgCatalog
from ats.store.postgres.connection import Q
from ats.ulids import next_ids

CHUNK = 5000


class PgFeed(PgCatalog):
    async def publish_feed(self, items: list[NewFeedEvent], now: Millis) -> list[FeedEvent]:
        """One statement when this process's idea of the clock is right (it is, unless another
        process published since); otherwise a transaction that locks the clock row first."""
        last = self._feed_clock
        counts: list[tuple[int, int]] = []
        if last is not None:
            ids = next_ids(last, now, len(items))
            args = (*_columns(ids, items, now), ids[-1], last)
            rows = await self._retrying(partial(self.pool.fetch, Q["pg_feed_publish"], *args))
            counts = [(r["project_id"], r["n"]) for r in rows]
        if not counts:
            ids, counts = await self._retrying(partial(self._publish_locked, items, now))
        self._feed_clock = ids[-1]
        return [
            published(event_id, i, now, await self.project_path(i.project_id))
            for event_id, i in zip(ids, items, strict=True)
        ]

    async def _publish_locked(
        self, items: list[NewFeedEvent], now: Millis
    ) -> tuple[list[str], list[tuple[int, int]]]:
        counts = []
        async with self.pool.acquire() as conn, conn.transaction():
            ids = next_ids(await conn.fetchval(Q["feed_lock"]), now, len(items))
            await conn.fetch(Q["feed_insert"], *_columns(ids, items, now))
            await conn.execute(Q["feed_set_clock"], ids[-1])
            for project_id, n in Counter(i.project_id for i in items).items():
                counts.append((project_id, await conn.fetchval(Q["feed_count_add"], project_id, n)))
        return ids, counts

    async def trim_feed(self, keep: int) -> int:
        async def body() -> int:
            gone = 0
            async with self.pool.acquire() as conn, conn.transaction():
                if not await conn.fetchval(Q["pg_feed_trim_lock"]):
                    return 0  # another process is at it
                for row in await conn.fetch(Q["feed_over"], keep):
                    status = await conn.execute(Q["feed_trim"], row["project_id"], row["n"] - keep)
                    deleted = int(status.split()[-1])
                    await conn.execute(Q["feed_count_sub"], row["project_id"], deleted)
                    gone += deleted
            self._feed_trimmed += gone  # tidy vacuums them (upkeep.py)
            return gone

        return await self._retrying(body) if keep > 0 else 0

    async def import_feed(self, project_id: int, events: list[FeedEvent]) -> int:
        async def body() -> int:
            added = 0
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.fetchval(Q["feed_lock"])
                for start in range(0, len(events), CHUNK):
                    part = events[start : start + CHUNK]
                    rows = await conn.fetch(
                        Q["feed_insert"], [e.id for e in part], [project_id] * len(part),
                        [e.agent for e in part], [e.type.value for e in part],
                        [e.summary for e in part], [e.detail for e in part],
                        [e.metadata for e in part], [e.timestamp for e in part],
                    )  # fmt: skip
                    added += len(rows)
                if events:
                    await conn.execute(Q["feed_set_clock"], max(e.id for e in events))
                if added:
                    await conn.fetchval(Q["feed_count_add"], project_id, added)
            self._feed_clock = None
            return added

        return await self._retrying(body)

    async def list_feed(self, q: FeedQuery) -> list[FeedEvent]:
        if q.after is None:
            args: tuple[Any, ...] = (q.project_id, q.agent, q.type, q.limit)
            rows = await self._retrying(lambda: self.pool.fetch(Q["feed_last"], *args))
        else:
            args = (q.after, q.project_id, q.agent, q.type, q.limit)
            rows = await self._retrying(lambda: self.pool.fetch(Q["feed_after"], *args))
        return [feed_from_row(r, await self.project_path(r["project_id"])) for r in rows]

    async def get_feed_event(self, event_id: str, project_id: int | None) -> FeedEvent | None:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["feed_get"], event_id, project_id))
        return (
            None if row is None else feed_from_row(row, await self.project_path(row["project_id"]))
        )

    async def clear_feed(self, project_id: int | None) -> None:
        async def body() -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.fetchval(Q["feed_lock"])  # not while a publish is counting
                await conn.execute(Q["feed_clear"], project_id)
                await conn.execute(Q["feed_clear_counts"], project_id)
            self._feed_clock = None

        await self._retrying(body)

    async def feed_stats(self, project_id: int | None) -> dict[str, Any]:
        async def body() -> dict[str, Any]:
            by_agent = await self.pool.fetch(Q["feed_by_agent"], project_id)
            by_type = await self.pool.fetch(Q["feed_by_type"], project_id)
            latest = await self.pool.fetch(Q["feed_latest_per_agent"], project_id)
            events = [feed_from_row(r, await self.project_path(r["project_id"])) for r in latest]
            return feed_stats_document(by_agent, by_type, events)

        return await self._retrying(body)

    async def feed_head(self) -> str:
        return str(await self._retrying(lambda: self.pool.fetchval(Q["feed_head"])))


def _columns(ids: list[str], items: list[NewFeedEvent], now: Millis) -> tuple[list[Any], ...]:
    """The insert's arrays, one per column."""
    return (
        ids, [i.project_id for i in items], [i.agent for i in items],
        [i.type.value for i in items], [i.summary for i in items], [i.detail for i in items],
        [i.metadata for i in items], [now] * len(items),
    )  # fmt: skip
