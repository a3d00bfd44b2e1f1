"""PostgreSQL upkeep: migrations, ping, the count ledger, vacuum between autovacuum's wakes, sizes.

Autovacuum (tuned per table in migration 0006) wakes once a minute at most. Under steady churn
that is too late for two tables: claims leave dead row versions at the head of the pending
index, and every claim steps over them; a small queue like ``feed_events`` (appended at the
tail, trimmed at the head) doubles in size long before then. The server's upkeep round
(:func:`ats.service.reaper.reap_forever`) calls :meth:`PgUpkeep.tidy` every few seconds; one
server process at a time vacuums what is due.
"""

from __future__ import annotations

from typing import Any, Protocol

from ats.store import sql
from ats.store.counts import FOLD_BATCH
from ats.store.postgres.runner import Handle, Runner, Session
from ats.store.sizes import storage_document

MIGRATION_LOCK = 0x4154_5301  # "ATS" + 1: serialises `ats db upgrade` across processes

# The tables ``tidy_due`` may name (the same list is in the query). VACUUM takes no bind
# parameters and cannot run inside a function, so its statement is written here, from this set.
HOT_TABLES = frozenset(
    (
        "tasks", "events", "events_trimmed", "messages", "task_deps", "feed_events", "feed_counts",
        "feed_clock", "task_counts", "task_count_deltas", "task_hours",
    )
)  # fmt: skip

FEED_TRIMMED = 100  # feed rows trimmed by this process that call for a vacuum now


class Trims(Protocol):
    """What the feed tells upkeep: the rows this process trimmed (``PgFeed.take_trimmed``)."""

    def take_trimmed(self) -> int: ...


class PgUpkeep:
    """The :class:`~ats.store.ports.Upkeep` port; the feed tells it how much it trimmed."""

    def __init__(self, runner: Runner, feed: Trims) -> None:
        self.runner = runner
        self.feed = feed

    async def ping(self) -> None:
        await self.runner.value("ping")

    async def migrate(self) -> list[str]:
        async def body(conn: Session) -> list[str]:
            applied: list[str] = []
            await conn.execute("pg_migration_lock", key=MIGRATION_LOCK)
            try:
                await conn.execute("pg_migrations_table")
                done = {r["version"] for r in await conn.all("pg_migrations_done")}
                for version, name, text in sql.migrations("ats.store.postgres"):
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.script(text)
                        await conn.execute("pg_migration_applied", version=version, name=name)
                    applied.append(f"{version:04d}_{name}")
            finally:
                await conn.execute("pg_migration_unlock", key=MIGRATION_LOCK)
            return applied

        return await self.runner.session(body)

    async def fold_counts(self) -> int:
        """Move committed ledger deltas into the count totals (one server process at a time)."""

        async def body(tx: Handle) -> int:
            moved = 0
            if not await tx.value("pg_fold_lock"):
                return 0  # another server process is folding
            while (n := int(await tx.value("pg_fold_task_counts", batch=FOLD_BATCH))) > 0:
                moved += n
                if n < FOLD_BATCH:
                    break
            return moved

        return await self.runner.transaction(body)

    async def tidy(self, dead_rows: int) -> bool:
        rows = await self.runner.all("tidy_due", dead_rows=dead_rows)
        due = [r["name"] for r in rows if r["dead"]]
        stale = [r["name"] for r in rows if r["stale"]]
        # The statistics reach pg_stat_user_tables a second or more late; the trims this process
        # made are known now. A btree page emptied by a trim is reusable only after the vacuum
        # that follows the one which deleted it, so each cycle skipped lets the indexes grow.
        trimmed = self.feed.take_trimmed()
        if trimmed >= FEED_TRIMMED and "feed_events" not in due:
            due.append("feed_events")
        if not due and not stale:
            return False

        async def body(conn: Session) -> bool:
            if not await conn.value("tidy_lock"):
                return False  # another server process is at it
            try:
                for name in due:
                    if name in HOT_TABLES:
                        await conn.script(f"VACUUM (SKIP_LOCKED) {name}")
                for name in stale:
                    if name in HOT_TABLES:
                        await conn.script(f"ANALYZE (SKIP_LOCKED) {name}")
            finally:
                await conn.value("tidy_unlock")
            return True

        return await self.runner.session(body)

    async def compact(self, full: bool) -> dict[str, int]:
        """``VACUUM (ANALYZE)`` the database; ``full`` rewrites every table (``VACUUM FULL``,
        which locks each table while it is copied: not under load)."""

        async def size() -> int:
            [row] = await self.runner.all("storage_database")
            return int(row["bytes"])

        async def vacuum(conn: Session) -> None:
            await conn.script("VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)")

        before = await size()
        await self.runner.session(vacuum)
        return {"bytes_before": before, "bytes_after": await size()}

    async def storage_stats(self) -> dict[str, Any]:
        [base] = await self.runner.all("storage_database")
        tables = [dict(r) for r in await self.runner.all("storage_tables")]
        indexes = [dict(r) for r in await self.runner.all("storage_indexes")]
        database = {
            "bytes": int(base["bytes"]),
            "free_bytes": None,  # PostgreSQL keeps it per page (pgstattuple would scan)
            "free_pages": None,
            "page_size": int(base["page_size"]),
            "wal_bytes": None,
            "auto_vacuum": "per table",
        }
        return storage_document("postgresql", database, tables, indexes)
