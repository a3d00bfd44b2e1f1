"""PostgreSQL reads that are not tasks: stats, the event log, orgs and projects."""

from __future__ import annotations

from typing import Any

import asyncpg

from ats.errors import NotFound
from ats.models import Event, Message, Millis, Org, Project
from ats.store.base import (
    FORWARD_WINDOW,
    TAIL_WINDOW,
    EventQuery,
    Kept,
    TaskQuery,
    contiguous_horizon,
    event_from_row,
    safe_horizon,
    settled_head,
    stalled,
    task_from_row,
    trim_range,
)
from ats.store.catalog import org_from_row, project_from_row
from ats.store.counts import FOLD_BATCH, count_filter, recent_hours, stats_from_counts
from ats.store.postgres.connection import PgConnection, Q, _row


class PgCatalog(PgConnection):
    # --- stats and events -----------------------------------------------------------------------

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        hour_24h, hour_7d = recent_hours(now)

        async def body() -> dict[str, Any]:
            rows = await self.pool.fetch(Q["stats_counts"], project_id)
            recent = await self.pool.fetchrow(Q["stats_recent"], project_id, hour_24h, hour_7d)
            return stats_from_counts(rows, recent)

        return await self._retrying(body)

    async def exact_count(self, q: TaskQuery) -> int | None:
        args = count_filter(q)
        if args is None:
            return None
        return int(await self._retrying(lambda: self.pool.fetchval(Q["count_tasks_exact"], *args)))

    async def fold_counts(self) -> int:
        """Move committed ledger deltas into the count totals (one server process at a time)."""

        async def body() -> int:
            moved = 0
            async with self.pool.acquire() as conn, conn.transaction():
                if not await conn.fetchval(Q["pg_fold_lock"]):
                    return 0  # another server process is folding
                while (n := int(await conn.fetchval(Q["pg_fold_task_counts"], FOLD_BATCH))) > 0:
                    moved += n
                    if n < FOLD_BATCH:
                        break
            return moved

        return await self._retrying(body)

    async def read(self, q: EventQuery, now: Millis) -> list[Event]:
        async def body() -> list[Event]:
            # Commit order is not id order on PostgreSQL: read only up to the first gap that a
            # transaction still in flight may fill (see safe_horizon).
            horizon = await self._horizon(q.since, now)
            if horizon <= q.since:
                return []
            rows = await self.pool.fetch(
                Q["events_after"], q.since, horizon, q.project_id, q.channel, q.task_type,
                list(q.types) or None, q.task_id, q.limit,
            )  # fmt: skip
            return [await self._event_from(r) for r in rows]

        return await self._retrying(body)

    async def latest_event_id(self, now: Millis) -> int:
        async def body() -> int:
            rows = await self.pool.fetch(Q["event_tail"], 0, TAIL_WINDOW + 1)
            tail = [(r["id"], r["created_at"]) for r in rows]
            trimmed = 0
            if len(tail) <= TAIL_WINDOW and tail and tail[-1][0] > 1:
                trimmed = (await self.kept_events()).trimmed
            return settled_head(tail, now, trimmed)

        return await self._retrying(body)

    async def _horizon(self, since: int, now: Millis, again: bool = True) -> int:
        rows = await self.pool.fetch(Q["event_tail"], since, TAIL_WINDOW + 1)
        tail = [(r["id"], r["created_at"]) for r in rows]
        horizon = safe_horizon(tail, since, now)
        if horizon is None:
            scan = await self.pool.fetch(Q["event_ids_after"], since, FORWARD_WINDOW)
            horizon = contiguous_horizon([(r["id"], r["created_at"]) for r in scan], since, now)
        if again and stalled(tail, since, horizon):
            # The ids after ``since`` may have been trimmed: no gap to wait for, read past them.
            kept = await self.kept_events()
            if kept.trimmed > since:
                return await self._horizon(kept.trimmed, now, again=False)
        return horizon

    async def kept_events(self) -> Kept:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["events_kept"]))
        return Kept(row["trimmed"], row["oldest"]) if row else Kept(0, None)

    async def trim_events(self, before: Millis, limit: int) -> int:
        async def body() -> int:
            async with self.pool.acquire() as conn, conn.transaction():
                if not await conn.fetchval(Q["pg_events_trim_lock"]):
                    return 0  # another server process is trimming
                span = trim_range(_row(await conn.fetchrow(Q["events_trim_bound"], before, limit)))
                if span is None:
                    return 0
                status = await conn.execute(Q["events_trim"], *span)
                await conn.execute(Q["events_trimmed_set"], span[1])
                return int(status.split()[-1])

        return await self._retrying(body)

    async def _event_from(self, row: asyncpg.Record) -> Event:
        snapshot = row["task"]
        task = task_from_row(snapshot, await self.project_path(snapshot["project_id"]))
        message = None
        if row["message"] is not None:
            message = Message.from_json(row["message"])
        return event_from_row(row, task, message)

    # --- orgs and projects ----------------------------------------------------------------------

    async def list_orgs(self) -> list[Org]:
        rows = await self._retrying(lambda: self.pool.fetch(Q["list_orgs"]))
        return [org_from_row(r) for r in rows]

    async def get_org(self, slug: str) -> Org:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["get_org"], slug))
        if row is None:
            raise NotFound(f"Organization {slug!r} not found")
        return org_from_row(row)

    async def create_org(self, slug: str, name: str, now: Millis) -> Org:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["create_org"], slug, name, now))
        return org_from_row(_row(row))

    async def update_org(
        self, slug: str, new_slug: str | None, name: str | None, now: Millis
    ) -> Org:
        org = await self.get_org(slug)
        row = await self._retrying(
            lambda: self.pool.fetchrow(
                Q["update_org"], slug, new_slug or org.slug, name or org.name, now
            )
        )
        self._paths.clear()
        return org_from_row(_row(row))

    async def list_projects(self, org: str, counts: bool) -> list[Project]:
        await self.get_org(org)
        rows = await self._retrying(lambda: self.pool.fetch(Q["list_projects"], org))
        return [project_from_row(r, counts) for r in rows]

    async def get_project(self, org: str, slug: str) -> Project:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["get_project"], org, slug))
        if row is None:
            raise NotFound(f"Project {org}/{slug} not found")
        return project_from_row(row, False)

    async def default_project(self) -> Project:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["default_project"]))
        if row is None:
            raise NotFound("the default project is missing: was the database migrated?")
        return project_from_row(row, False)

    async def create_project(
        self, org: str, slug: str, name: str, description: str | None, now: Millis
    ) -> Project:
        await self.get_org(org)
        row = await self._retrying(
            lambda: self.pool.fetchrow(Q["create_project"], org, slug, name, description, now)
        )
        return project_from_row(_row(row), False)

    async def update_project(
        self,
        org: str,
        slug: str,
        new_slug: str | None,
        name: str | None,
        description: str | None,
        now: Millis,
    ) -> Project:
        p = await self.get_project(org, slug)
        row = await self._retrying(
            lambda: self.pool.fetchrow(
                Q["update_project"],
                org,
                slug,
                new_slug or p.slug,
                name or p.name,
                description if description is not None else p.description,
                now,
            )
        )
        self._paths.clear()
        return project_from_row(_row(row), False)
