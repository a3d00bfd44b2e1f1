"""SQLite reads that are not tasks: stats, the event log, orgs and projects."""

from __future__ import annotations

from typing import Any

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
from ats.store.sqlite.connection import SqliteConnection, _dumps


class SqliteCatalog(SqliteConnection):
    # --- stats and events -----------------------------------------------------------------------

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        by_status = {r["status"]: r["n"] for r in self._all("stats_by_status", project_id)}
        by_channel = {r["channel"]: r["n"] for r in self._all("stats_by_channel", project_id)}
        times = self._one("stats_times", project_id, now - 86_400_000, now - 7 * 86_400_000)
        return stats_document(by_status, by_channel, times or {})

    async def events(self, q: EventQuery, now: Millis) -> list[Event]:
        # SQLite commits one writer at a time, so ids are already in commit order; the horizon
        # is computed as on PostgreSQL (it never stops short here) and costs an index scan.
        tail = self._all("event_tail", q.since, TAIL_WINDOW + 1)
        horizon = safe_horizon([(r["id"], r["created_at"]) for r in tail], q.since, now)
        if horizon is None:
            scan = self._all("event_ids_after", q.since, FORWARD_WINDOW)
            ids = [(r["id"], r["created_at"]) for r in scan]
            horizon = contiguous_horizon(ids, q.since, now)
        rows = self._all(
            "events_after", q.since, horizon, q.project_id, q.channel, q.task_type,
            _dumps(list(q.types)) if q.types else None, q.task_id, q.limit,
        )  # fmt: skip
        events = []
        for row in rows:
            snapshot = row["task"]
            task = task_from_row(snapshot, self.project_path(snapshot["project_id"]))
            message = Message.from_json(row["message"]) if row["message"] else None
            events.append(event_from_row(row, task, message))
        return events

    async def latest_event_id(self, now: Millis) -> int:
        tail = self._all("event_tail", 0, TAIL_WINDOW + 1)
        return settled_head([(r["id"], r["created_at"]) for r in tail], now)

    # --- orgs and projects ----------------------------------------------------------------------

    async def list_orgs(self) -> list[Org]:
        return [org_from_row(r) for r in self._all("list_orgs")]

    async def get_org(self, slug: str) -> Org:
        row = self._one("get_org", slug)
        if row is None:
            raise NotFound(f"Organization {slug!r} not found")
        return org_from_row(row)

    async def create_org(self, slug: str, name: str, now: Millis) -> Org:
        async with self._write():
            row = self._one("create_org", slug, name, now)
        assert row is not None
        return org_from_row(row)

    async def update_org(
        self, slug: str, new_slug: str | None, name: str | None, now: Millis
    ) -> Org:
        org = await self.get_org(slug)
        async with self._write():
            row = self._one("update_org", slug, new_slug or org.slug, name or org.name, now)
        self._paths.clear()
        assert row is not None
        return org_from_row(row)

    async def list_projects(self, org: str, counts: bool) -> list[Project]:
        await self.get_org(org)
        return [project_from_row(r, counts) for r in self._all("list_projects", org)]

    async def get_project(self, org: str, slug: str) -> Project:
        row = self._one("get_project", org, slug)
        if row is None:
            raise NotFound(f"Project {org}/{slug} not found")
        return project_from_row(row, False)

    async def default_project(self) -> Project:
        row = self._one("default_project")
        if row is None:
            raise NotFound("the default project is missing: was the database migrated?")
        return project_from_row(row, False)

    async def create_project(
        self, org: str, slug: str, name: str, description: str | None, now: Millis
    ) -> Project:
        await self.get_org(org)
        async with self._write():
            row = self._one("create_project", org, slug, name, description, now)
        assert row is not None
        return project_from_row(row, False)

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
        async with self._write():
            row = self._one(
                "update_project", org, slug, new_slug or p.slug, name or p.name,
                description if description is not None else p.description, now,
            )  # fmt: skip
        self._paths.clear()
        assert row is not None
        return project_from_row(row, False)
