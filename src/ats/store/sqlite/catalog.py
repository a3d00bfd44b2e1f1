"""SQLite reads that are not tasks: stats, the event log, orgs and projects."""

from __future__ import annotations

from typing import Any

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
from ats.store.counts import count_filter, recent_hours, stats_from_counts
from ats.store.sqlite.connection import Q, SqliteConnection, _dumps

TRIM_STEP = 1000  # event rows deleted per write transaction at most (see trim_events)


class SqliteCatalog(SqliteConnection):
    # --- stats and events -----------------------------------------------------------------------

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        rows = self._all("stats_counts", project_id)
        return stats_from_counts(rows, self._one("stats_recent", project_id, *recent_hours(now)))

    async def exact_count(self, q: TaskQuery) -> int | None:
        args = count_filter(q)
        if args is None:
            return None
        project_id, statuses, channel, type_ = args
        row = self._one(
            "count_tasks_exact", project_id, _dumps(statuses) if statuses else None, channel, type_
        )
        return int(row["n"]) if row else 0

    async def fold_counts(self) -> int:
        return 0  # the triggers add straight into the totals: nothing to fold

    async def read(self, q: EventQuery, now: Millis) -> list[Event]:
        # SQLite commits one writer at a time, so ids are already in commit order; the horizon
        # is computed as on PostgreSQL (it never stops short here) and costs an index scan.
        horizon = self._horizon(q.since, now)
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
        tail = [(r["id"], r["created_at"]) for r in self._all("event_tail", 0, TAIL_WINDOW + 1)]
        trimmed = 0
        if len(tail) <= TAIL_WINDOW and tail and tail[-1][0] > 1:
            trimmed = (await self.kept_events()).trimmed
        return settled_head(tail, now, trimmed)

    def _horizon(self, since: int, now: Millis, again: bool = True) -> int:
        tail = [(r["id"], r["created_at"]) for r in self._all("event_tail", since, TAIL_WINDOW + 1)]
        horizon = safe_horizon(tail, since, now)
        if horizon is None:
            scan = self._all("event_ids_after", since, FORWARD_WINDOW)
            horizon = contiguous_horizon([(r["id"], r["created_at"]) for r in scan], since, now)
        if again and stalled(tail, since, horizon):
            # The ids after ``since`` may have been trimmed: no gap to wait for, read past them.
            row = self._one("events_kept")
            if row is not None and row["trimmed"] > since:
                return self._horizon(row["trimmed"], now, again=False)
        return horizon

    async def kept_events(self) -> Kept:
        row = self._one("events_kept")
        return Kept(row["trimmed"], row["oldest"]) if row else Kept(0, None)

    async def trim_events(self, before: Millis, limit: int) -> int:
        # One bounded step per write transaction: statements run on the event loop, so the
        # caller yields between steps and writers take their turns (the write lock is FIFO).
        # Measured on 2 busy vCPUs with ~1 KB task snapshots: 500 rows ~1-9 ms, 1,000 ~2-35 ms,
        # 2,000 ~10-50 ms (the spikes are WAL checkpoints at commit).
        async with self._write():
            row = self._one("events_trim_bound", before, min(limit, TRIM_STEP))
            span = trim_range(row) if row else None
            if span is None:
                return 0
            deleted = self.db.execute(Q["events_trim"], span).rowcount
            self.db.execute(Q["events_trimmed_set"], (span[1],))
        return deleted

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
