"""The PostgreSQL :class:`~ats.store.transitions.Tx`: the general path's reads and writes."""

from __future__ import annotations

from ats.models import Actor, EventType, Millis, Task
from ats.store.base import task_to_row
from ats.store.postgres.rows import Paths, task_of
from ats.store.postgres.runner import Executor, Record
from ats.store.transitions import Locked


class PgTx:
    """A :class:`~ats.store.transitions.Tx` over a transaction's :class:`Handle`, or — with
    ``locking=False``, for the optimistic fast paths — over the runner itself."""

    def __init__(self, paths: Paths, on: Executor, *, locking: bool = True) -> None:
        self.paths = paths
        self.on = on
        self._read = "lock_task" if locking else "read_task"

    async def locked(self, row: Record | None) -> Locked | None:
        """A row of ``lock_task`` / ``read_task`` / ``read_tasks`` as the general path sees it."""
        if row is None:
            return None
        blockers = [(int(i), str(s)) for i, s in row["blockers"] or []]
        return Locked(await task_of(self.paths, row), row["project_id"], row["version"], blockers)

    async def lock_task(self, task_id: int) -> Locked | None:
        return await self.locked(await self.on.one(self._read, task_id=task_id))

    async def lock_expired(self, task_id: int, now: Millis) -> Locked | None:
        return await self.locked(await self.on.one("lock_expired", task_id=task_id, now=now))

    async def write_task(
        self,
        read: Locked,
        task: Task,
        events: tuple[EventType, ...],
        actor: Actor,
        now: Millis,
    ) -> int | None:
        r = task_to_row(task, read.project_id)
        version: int | None = await self.on.value(
            "write_task", **r, actor_type=actor.type.value, actor_id=actor.id,
            actor_name=actor.name, now=now, task=r, events=[e.value for e in events],
            version=read.version,
        )  # fmt: skip
        return version

    async def pending_dependents(self, task_id: int) -> list[int]:
        return [r["id"] for r in await self.on.all("pending_dependents", task_id=task_id)]
