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
from ats.store.postgres.catalog import PgCatalog
from ats.store.postgres.connection import Conn, Q
from ats.ulids import next_ids

CHUNK = 5000


class PgFeed(PgCatalog):
    async def publish_feed(
        self, items: list[NewFeedEvent], now: Millis, keep: int
    ) -> list[FeedEvent]:
        async def body() -> list[str]:
            async with self.pool.acquire() as conn, conn.transaction():
                ids = next_ids(await conn.fetchval(Q["feed_lock"]), now, len(items))
                await conn.fetch(
                    Q["feed_insert"], ids, [i.project_id for i in items],
                    [i.agent for i in items], [i.type.value for i in items],
                    [i.summary for i in items], [i.detail for i in items],
                    [i.metadata for i in items], [now] * len(items),
                )  # fmt: skip
                await conn.execute(Q["feed_set_clock"], ids[-1])
                await _count_and_trim(conn, Counter(i.project_id for i in items), keep)
            return ids

        ids = await self._retrying(body)
        return [
            published(event_id, i, now, await self.project_path(i.project_id))
            for event_id, i in zip(ids, items, strict=True)
        ]

    async def import_feed(self, project_id: int, events: list[FeedEvent], keep: int) -> int:
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
                    await _count_and_trim(conn, {project_id: added}, keep)
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


async def _count_and_trim(conn: Conn, added: dict[int, int] | Counter[int], keep: int) -> None:
    for project_id, n in added.items():
        total = await conn.fetchval(Q["feed_count_add"], project_id, n)
        if keep > 0 and total > keep:
            await conn.execute(Q["feed_trim"], project_id, total - keep)
            await conn.execute(Q["feed_count_sub"], project_id, total - keep)
