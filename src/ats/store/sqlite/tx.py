"""The :class:`~ats.store.transitions.Tx` of one SQLite write transaction.

``BEGIN IMMEDIATE`` already excludes every other writer, so reading a task is as good as locking
it; the compare-and-set on ``version`` in ``write_task`` never misses here.
"""

from __future__ import annotations

from typing import Any

from ats.models import Actor, EventType, Message, Millis, Task
from ats.store.base import task_from_row, task_to_row
from ats.store.sqlite.catalog import ProjectPaths
from ats.store.sqlite.runner import Statements, dumps
from ats.store.transitions import Locked


class SqliteTx:
    """The general path's view of a write transaction (:meth:`Runner.write`), plus the event
    log's append, which every change in it writes."""

    def __init__(self, statements: Statements, paths: ProjectPaths) -> None:
        self.statements = statements
        self.paths = paths

    def task(self, row: dict[str, Any]) -> Task:
        return task_from_row(row, self.paths.get(row["project_id"]))

    def _locked(self, row: dict[str, Any] | None) -> Locked | None:
        if row is None:
            return None
        task = self.task(row)
        blockers = [(int(i), str(s)) for i, s in row["blockers"] or []]
        return Locked(task, row["project_id"], row["version"], blockers)

    async def lock_task(self, task_id: int) -> Locked | None:
        return self._locked(self.statements.one("lock_task", task_id=task_id))

    async def lock_expired(self, task_id: int, now: Millis) -> Locked | None:
        return self._locked(self.statements.one("lock_expired", task_id=task_id, now=now))

    async def write_task(
        self,
        read: Locked,
        task: Task,
        events: tuple[EventType, ...],
        actor: Actor,
        now: Millis,
    ) -> int | None:
        r = task_to_row(task, read.project_id)
        json = {k: dumps(r[k]) for k in ("payload", "outputs", "depends_on")}
        written = self.statements.value("write_task", **(r | json), version=read.version)
        if written is None:
            return None
        for kind in events:
            self.event(kind, r, actor, now)
        return int(written)

    def event(
        self,
        kind: EventType,
        row: dict[str, Any],
        actor: Actor,
        now: Millis,
        message: Message | None = None,
    ) -> None:
        """Append one event: ``row`` is the task as it now is (its snapshot in the event)."""
        self.statements.execute(
            "insert_event", type=kind.value, task_id=row["id"], project_id=row["project_id"],
            channel=row["channel"], task_type=row["type"], actor_type=actor.type.value,
            actor_id=actor.id, actor_name=actor.name, now=now, task=dumps(row),
            message=dumps(message.to_json()) if message else None,
        )  # fmt: skip

    async def pending_dependents(self, task_id: int) -> list[int]:
        return [r["id"] for r in self.statements.all("pending_dependents", task_id=task_id)]
