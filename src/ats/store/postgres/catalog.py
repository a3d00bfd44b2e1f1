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
    contiguous_horizon,
    event_from_row,
    safe_horizon,
    settled_head,
    task_from_row,
)
from ats.store.catalog import org_from_row, project_from_row, stats_document
from ats.store.postgres.connection import PgConnection, Q, _row


class PgCatalog(PgConnection):
    # --- stats and events -----------------------------------------------------------------------

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        async def body() -> dict[str, Any]:
            by_status = await self.pool.fetch(Q["stats_by_status"], project_id)
            by_channel = await self.pool.fetch(Q["stats_by_channel"], project_id)
            times = await self.pool.fetchrow(
                Q["stats_times"], project_id, now - 86_400_000, now - 7 * 86_400_000
            )
            return stats_document(
                {r["status"]: r["n"] for r in by_status},
                {r["channel"]: r["n"] for r in by_channel},
                dict(_row(times)),
            )

        return await self._retrying(body)

    async def events(self, q: EventQuery, now: Millis) -> list[Event]:
        async def body() -> list[Event]:
            # Commit order is not id order on PostgreSQL: read only up to the first gap that a
            # transaction still in flight may fill (see safe_horizon).
            tail = await self.pool.fetch(Q["event_tail"], q.since, TAIL_WINDOW + 1)
            horizon = safe_horizon([(r["id"], r["created_at"]) for r in tail], q.since, now)
            if horizon is None:
                scan = await self.pool.fetch(Q["event_ids_after"], q.since, FORWARD_WINDOW)
                ids = [(r["id"], r["created_at"]) for r in scan]
                horizon = contiguous_horizon(ids, q.since, now)
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
            tail = await self.pool.fetch(Q["event_tail"], 0, TAIL_WINDOW + 1)
            return settled_head([(r["id"], r["created_at"]) for r in tail], now)

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
