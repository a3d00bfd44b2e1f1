"""TaskService: what the API does, independent of HTTP.

It resolves ``org/project`` scopes to project ids (cached), stamps the clock, and forwards to the
store, whose transactions apply the status machine of :mod:`ats.lifecycle`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ats.errors import AtsError
from ats.lifecycle import Action, Claim, Complete, Fail
from ats.models import (
    Actor,
    Event,
    FeedType,
    Message,
    Millis,
    Task,
    now_ms,
)
from ats.service import retention
from ats.store import EventQuery, NewTask, Store, TaskQuery


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a request looks: one project, or every project (``project_id`` None)."""

    project_id: int | None
    create_in: int  # unscoped creates go to default/main


# (feed type, who, the tasks as they now are): see FeedService.mirror
Mirror = Callable[[FeedType, Actor, list[Task]], None]
_MIRRORED: dict[type[Any], FeedType] = {
    Claim: FeedType.TASK_STARTED,
    Complete: FeedType.TASK_COMPLETED,
    Fail: FeedType.TASK_FAILED,
}


class TaskService:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], Millis] = now_ms,
        on_write: Callable[[], None] = lambda: None,
        mirror: Mirror | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_write = on_write  # the event bus's wake-up: new events are in the log
        self.mirror = mirror  # copies claims, completions and failures into the activity feed
        self._projects: dict[tuple[str, str], int] = {}
        self._default: int | None = None  # by id: renaming its org or slug changes nothing

    async def scope(self, org: str | None, project: str | None) -> Scope:
        if org is None or project is None:
            if self._default is None:
                self._default = (await self.store.catalog.default_project()).id
            return Scope(None, self._default)
        pid = await self._project_id(org, project)
        return Scope(pid, pid)

    async def _project_id(self, org: str, project: str) -> int:
        key = (org, project)
        pid = self._projects.get(key)
        if pid is None:
            pid = (await self.store.catalog.get_project(org, project)).id
            self._projects[key] = pid
        return pid

    def forget_projects(self) -> None:
        """Slugs changed (rename): resolve them again."""
        self._projects.clear()

    async def create(self, scope: Scope, specs: list[NewTask], actor: Actor) -> list[Task]:
        result = await self.store.tasks.create_tasks(scope.create_in, specs, actor, self.clock())
        self.on_write()
        return result

    async def get(self, scope: Scope, task_id: int) -> Task:
        return await self.store.tasks.get_task(task_id, scope.project_id, with_messages=True)

    async def list_tasks(self, query: TaskQuery) -> tuple[list[Task], bool]:
        """One page, and whether more match after it (one row more is read to know)."""
        tasks = await self.store.tasks.list_tasks(dataclasses.replace(query, limit=query.limit + 1))
        return tasks[: query.limit], len(tasks) > query.limit

    async def count_tasks(self, query: TaskQuery) -> tuple[int, bool]:
        """(count, capped); a separate statement from the page, so each keeps its own plan.

        The common filters (project, statuses, a channel and/or a type) are read from the
        counters kept with every change (O(1)); any other filter counts at most 10,000 rows."""
        exact = await self.store.tasks.exact_count(query)
        if exact is not None:
            return exact, False
        return await self.store.tasks.count_tasks(query)

    async def act(self, scope: Scope, task_id: int, action: Action, actor: Actor) -> Task:
        result = await self.store.tasks.transition(
            task_id, scope.project_id, action, actor, self.clock()
        )
        self.on_write()
        kind = _MIRRORED.get(type(action))
        if kind is not None and self.mirror is not None:
            self.mirror(kind, actor, [result])
        return result

    async def act_many(
        self, scope: Scope, items: list[tuple[int, Action]], actor: Actor
    ) -> list[Task | AtsError]:
        result = await self.store.tasks.transition_many(
            scope.project_id, items, actor, self.clock()
        )
        self.on_write()
        if self.mirror is not None:
            for (_, action), outcome in zip(items, result, strict=True):
                kind = _MIRRORED.get(type(action))
                if kind is not None and isinstance(outcome, Task):
                    self.mirror(kind, actor, [outcome])
        return result

    async def set_dependencies(
        self, scope: Scope, task_id: int, depends_on: list[int], actor: Actor
    ) -> Task:
        result = await self.store.tasks.set_dependencies(
            task_id, scope.project_id, depends_on, actor, self.clock()
        )
        self.on_write()
        return result

    async def delete(self, scope: Scope, task_id: int, actor: Actor) -> None:
        await self.store.tasks.delete_task(task_id, scope.project_id, actor, self.clock())
        self.on_write()

    async def claim_next(
        self,
        scope: Scope,
        channel: str | None,
        task_type: str | None,
        lease_ms: int,
        limit: int,
        actor: Actor,
    ) -> list[Task]:
        result = await self.store.tasks.claim_next(
            scope.project_id, channel, task_type, lease_ms, limit, actor, self.clock()
        )
        self.on_write()
        if self.mirror is not None:
            self.mirror(FeedType.TASK_STARTED, actor, result)
        return result

    async def add_message(
        self, scope: Scope, task_id: int, parts: list[dict[str, Any]], actor: Actor
    ) -> Message:
        result = await self.store.tasks.add_message(
            task_id, scope.project_id, parts, actor, self.clock()
        )
        self.on_write()
        return result

    async def messages(self, scope: Scope, task_id: int) -> list[Message]:
        return await self.store.tasks.list_messages(task_id, scope.project_id)

    async def stats(self, scope: Scope) -> dict[str, Any]:
        return await self.store.tasks.stats(scope.project_id, self.clock())

    async def events(self, query: EventQuery, checked: bool = True) -> list[Event]:
        """The log after ``query.since``; Gone (410) when some of it was trimmed, unless
        ``checked`` is False (the reader asked for no particular start: the oldest kept)."""
        events = await self.store.events.read(query, self.clock())
        if checked:
            await retention.ensure_kept(self.store, query.since, events[0].id if events else None)
        return events

    async def latest_event_id(self) -> int:
        return await self.store.events.latest_event_id(self.clock())

    async def oldest_event_id(self) -> int | None:
        """The oldest event retention kept (None: the log is empty)."""
        return (await self.store.events.kept_events()).oldest
