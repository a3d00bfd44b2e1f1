"""PostgreSQL upkeep: vacuum the churned tables between autovacuum's wakes; sizes for stats.

Autovacuum (tuned per table in migration 0006) wakes once a minute at most. Under steady churn
that is too late for two tables: claims leave dead row versions at the head of the pending
index, and every claim steps over them; a small queue like ``feed_events`` (appended at the
tail, trimmed at the head) doubles in size long before then. The server's upkeep round
(:func:`ats.service.reaper.reap_forever`) calls :meth:`PgUpkeep.tidy` every few seconds; one
server process at a time vacuums what is due.
"""

from __future__ import annotations

from typing import Any

from ats.store.postgres.connection import PgConnection, Q
from ats.store.sizes import storage_document

# The tables ``tidy_due`` may name (the same list is in the query). VACUUM takes no bind
# parameters and cannot run inside a function, so its statement is written here, from this set.
HOT_TABLES = frozenset(
    (
        "tasks", "events", "events_trimmed", "messages", "task_deps", "feed_events", "feed_counts",
        "feed_clock", "task_counts", "task_count_deltas", "task_hours",
    )
)  # fmt: skip

FEED_TRIMMED = 100  # feed rows trimmed by this process that call for a vacuum now


class PgUpkeep(PgConnection):
    async def tidy(self, dead_rows: int) -> bool:
        due = [r["name"] for r in await self.pool.fetch(Q["tidy_due"], dead_rows)]
        # The statistics reach pg_stat_user_tables a second or more late; the trims this process
        # made are known now. A btree page emptied by a trim is reusable only after the vacuum
        # that follows the one which deleted it, so each cycle skipped lets the indexes grow.
        trimmed, self._feed_trimmed = self._feed_trimmed, 0
        if trimmed >= FEED_TRIMMED and "feed_events" not in due:
            due.append("feed_events")
        if not due:
            return False
        async with self.pool.acquire() as conn:
            if not await conn.fetchval(Q["tidy_lock"]):
                return False  # another server process is at it
            try:
                for name in due:
                    if name in HOT_TABLES:
                        await conn.execute(f"VACUUM (SKIP_LOCKED) {name}")
            finally:
                await conn.fetchval(Q["tidy_unlock"])
        return True

    async def compact(self, full: bool) -> dict[str, int]:
        """``VACUUM (ANALYZE)`` the database; ``full`` rewrites every table (``VACUUM FULL``,
        which locks each table while it is copied: not under load)."""

        async def size() -> int:
            [row] = await self.pool.fetch(Q["storage_database"])
            return int(row["bytes"])

        before = await size()
        async with self.pool.acquire() as conn:
            await conn.execute("VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)")
        return {"bytes_before": before, "bytes_after": await size()}

    async def storage_stats(self) -> dict[str, Any]:
        async def body() -> dict[str, Any]:
            [base] = await self.pool.fetch(Q["storage_database"])
            tables = [dict(r) for r in await self.pool.fetch(Q["storage_tables"])]
            indexes = [dict(r) for r in await self.pool.fetch(Q["storage_indexes"])]
            database = {
                "bytes": int(base["bytes"]),
                "free_bytes": None,  # PostgreSQL keeps it per page (pgstattuple would scan)
                "free_pages": None,
                "page_size": int(base["page_size"]),
                "wal_bytes": None,
                "auto_vacuum": "per table",
            }
            return storage_document("postgresql", database, tables, indexes)

        return await self._retrying(body)
