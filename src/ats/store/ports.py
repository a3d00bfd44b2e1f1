"""The storage ports: narrow Protocols named by concept, and the :class:`Store` holding one of each.

A backend implements each port with a small class of its own (``ats.store.sqlite``,
``ats.store.postgres``) and composes them; callers take
the port they need (``store.tasks``, ``store.events``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ats.errors import AtsError
from ats.lifecycle import Action
from ats.models import Actor, Event, FeedEvent, Message, Millis, Org, Project, Task
from ats.store.base import EventQuery, FeedQuery, Kept, NewFeedEvent, NewTask, TaskQuery


class Tasks(Protocol):
    """Tasks and their messages: create, read, list and count, every status change, claim-next.

    Every change writes its events in the same transaction. Methods taking ``project_id`` limit
    themselves to that project when it is not None (a task of another project is NotFound)."""

    async def create_tasks(
        self, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]: ...

    async def get_task(
        self, task_id: int, project_id: int | None, with_messages: bool = False
    ) -> Task: ...

    async def list_tasks(self, q: TaskQuery) -> list[Task]:
        """At most ``q.limit`` tasks, after ``q.after`` when set (see :mod:`ats.store.listing`)."""
        ...

    async def count_tasks(self, q: TaskQuery) -> tuple[int, bool]:
        """(count, capped): exact, or at most ``listing.COUNT_CAP`` where counting needs a scan."""
        ...

    async def transition(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task: ...

    async def transition_many(
        self, project_id: int | None, items: list[tuple[int, Action]], actor: Actor, now: Millis
    ) -> list[Task | AtsError]:
        """Apply each (task id, action); per item the task after it, or the error it got.

        Items are independent: one refusal does not undo the others.
        """
        ...

    async def set_dependencies(
        self, task_id: int, project_id: int | None, depends_on: list[int], actor: Actor, now: Millis
    ) -> Task: ...

    async def delete_task(
        self, task_id: int, project_id: int | None, actor: Actor, now: Millis
    ) -> None: ...

    async def claim_next(
        self,
        project_id: int | None,
        channel: str | None,
        task_type: str | None,
        lease_ms: int,
        limit: int,
        actor: Actor,
        now: Millis,
    ) -> list[Task]: ...

    async def expire_leases(self, now: Millis, limit: int) -> int: ...

    async def add_message(
        self,
        task_id: int,
        project_id: int | None,
        parts: list[dict[str, Any]],
        actor: Actor,
        now: Millis,
    ) -> Message: ...

    async def list_messages(self, task_id: int, project_id: int | None) -> list[Message]: ...

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        """``GET /tasks/stats``, from the counters kept by triggers (no scan of ``tasks``)."""
        ...

    async def exact_count(self, q: TaskQuery) -> int | None:
        """How many tasks match ``q``, from the counters, when its only filters are project,
        statuses, channel and type; None when a count would need a scan."""
        ...


class EventLog(Protocol):
    """The event log: reading it in commit order, retention, and wake-ups across processes."""

    async def read(self, q: EventQuery, now: Millis) -> list[Event]: ...

    async def latest_event_id(self, now: Millis) -> int:
        """The id up to which the log is complete: a live reader starts after it."""
        ...

    async def kept_events(self) -> Kept:
        """How far retention has trimmed the event log."""
        ...

    async def trim_events(self, before: Millis, limit: int) -> int:
        """One retention step: delete at most ``limit`` of the oldest events (a backend may take
        a smaller step), stopping at the first one written at or after ``before``; never the
        newest event. How many went (0 also when another server process is trimming). The kept
        log stays a contiguous tail."""
        ...

    def listen(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change`` whenever another process may have appended to the event log."""

    def announce(self) -> None:
        """Events were committed through this process: wake readers in the other processes."""


class Feed(Protocol):
    """The activity feed (ids are ULIDs in commit order; see :mod:`ats.ulids`)."""

    async def publish_feed(self, items: list[NewFeedEvent], now: Millis) -> list[FeedEvent]:
        """Append in one transaction; ids above every id handed out before."""
        ...

    async def trim_feed(self, keep: int) -> int:
        """Delete each project's oldest events beyond its newest ``keep``; how many went."""
        ...

    async def import_feed(self, project_id: int, events: list[FeedEvent]) -> int:
        """Append events that carry their own ids, all or nothing; ids already there are
        skipped. Returns how many were added."""
        ...

    async def list_feed(self, q: FeedQuery) -> list[FeedEvent]: ...

    async def get_feed_event(self, event_id: str, project_id: int | None) -> FeedEvent | None: ...

    async def clear_feed(self, project_id: int | None) -> None: ...

    async def feed_stats(self, project_id: int | None) -> dict[str, Any]: ...

    async def feed_head(self) -> str:
        """The highest id handed out so far ("" before the first)."""
        ...


class Catalog(Protocol):
    """Orgs and projects."""

    async def list_orgs(self) -> list[Org]: ...

    async def create_org(self, slug: str, name: str, now: Millis) -> Org: ...

    async def get_org(self, slug: str) -> Org: ...

    async def update_org(
        self, slug: str, new_slug: str | None, name: str | None, now: Millis
    ) -> Org: ...

    async def list_projects(self, org: str, counts: bool) -> list[Project]: ...

    async def create_project(
        self, org: str, slug: str, name: str, description: str | None, now: Millis
    ) -> Project: ...

    async def get_project(self, org: str, slug: str) -> Project: ...

    async def default_project(self) -> Project:
        """Where unscoped routes create (``default/main`` unless renamed)."""
        ...

    async def update_project(
        self,
        org: str,
        slug: str,
        new_slug: str | None,
        name: str | None,
        description: str | None,
        now: Millis,
    ) -> Project: ...


class Upkeep(Protocol):
    """Schema, health and housekeeping: migrations, ping, vacuum, counters, sizes."""

    async def migrate(self) -> list[str]: ...

    async def ping(self) -> None: ...

    async def tidy(self, dead_rows: int) -> bool:
        """One short round of upkeep under churn; True if it reclaimed space.

        PostgreSQL: VACUUM each churned table with more than ``dead_rows`` dead row versions, or
        more than a tenth of its live rows, and ANALYZE each changed by a twentieth since its
        statistics were taken (one server at a time). SQLite: give free pages back
        to the file system a few at a time, ``PRAGMA optimize`` every few hours, empty the WAL
        when idle.
        """
        ...

    async def compact(self, full: bool) -> dict[str, int]:
        """``ats db vacuum``: VACUUM now (``full``: rewrite every table on PostgreSQL; SQLite
        always rewrites the file, turning incremental auto-vacuum on). Sizes before and after."""
        ...

    async def storage_stats(self) -> dict[str, Any]:
        """``ats db stats``: rows and bytes per table and per index, the database's size and
        free space (see :func:`ats.store.sizes.storage_document`)."""
        ...

    async def fold_counts(self) -> int:
        """Upkeep: fold committed count deltas into the totals (PostgreSQL; one server process
        at a time). Readers are exact before and after. How many delta rows moved."""
        ...


class Store(Protocol):
    """One database: a port per concept, and the connection they share."""

    kind: str  # "sqlite" | "postgresql"

    @property
    def tasks(self) -> Tasks: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def feed(self) -> Feed: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def upkeep(self) -> Upkeep: ...

    async def close(self) -> None: ...
