"""How a status change is carried out inside a transaction, written once for both backends.

The backend opens the transaction and hands over a :class:`Tx`; this module locks the task, asks
:mod:`ats.lifecycle` for the outcome, writes it with its events, and fails pending dependents of a
task that failed or was cancelled (recursively, SPEC §2.2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from ats.errors import InvalidInput, NotFound
from ats.lifecycle import CASCADE_ACTOR, CASCADING, Action, ExpireLease, apply, cascade_failure
from ats.models import SYSTEM, Actor, EventType, Millis, Status, Task


@dataclass(frozen=True, slots=True)
class Locked:
    task: Task
    project_id: int
    blockers: list[tuple[int, str]]
    has_dependents: bool


class Tx(Protocol):
    async def lock_task(self, task_id: int) -> Locked | None: ...

    async def write_task(
        self,
        task: Task,
        project_id: int,
        events: tuple[EventType, ...],
        actor: Actor,
        now: Millis,
    ) -> None: ...

    async def pending_dependents(self, task_id: int) -> list[int]: ...


def not_found(task_id: int) -> NotFound:
    return NotFound(f"Task {task_id} not found", task_id=task_id)


async def locate(tx: Tx, task_id: int, project_id: int | None) -> Locked:
    locked = await tx.lock_task(task_id)
    if locked is None or (project_id is not None and locked.project_id != project_id):
        raise not_found(task_id)
    return locked


async def run(
    tx: Tx,
    task_id: int,
    project_id: int | None,
    action: Action,
    actor: Actor,
    now: Millis,
) -> Task:
    locked = await locate(tx, task_id, project_id)
    outcome = apply(locked.task, action, actor, now, locked.blockers)
    await tx.write_task(outcome.task, locked.project_id, outcome.events, actor, now)
    if locked.has_dependents:
        await after_status_change(tx, locked.task.status, outcome.task, now)
    return outcome.task


async def after_status_change(tx: Tx, before: Status, task: Task, now: Millis) -> None:
    if task.status in CASCADING and before is not task.status:
        await cascade(tx, task, now)


async def cascade(tx: Tx, failed: Task, now: Millis) -> None:
    """Fail every pending task that (transitively) depends on ``failed``."""
    queue = [failed]
    while queue:
        dependency = queue.pop(0)
        for child_id in await tx.pending_dependents(dependency.id):
            locked = await tx.lock_task(child_id)
            if locked is None or locked.task.status is not Status.PENDING:
                continue
            outcome = cascade_failure(locked.task, dependency.id, dependency.status.value, now)
            await tx.write_task(outcome.task, locked.project_id, outcome.events, CASCADE_ACTOR, now)
            queue.append(outcome.task)


async def expire(tx: Tx, locked: Locked, now: Millis) -> Task:
    """The reaper's step for one task whose lease ran out (the row is locked)."""
    outcome = apply(locked.task, ExpireLease(), SYSTEM, now, [])
    await tx.write_task(outcome.task, locked.project_id, outcome.events, SYSTEM, now)
    if locked.has_dependents:
        await after_status_change(tx, locked.task.status, outcome.task, now)
    return outcome.task


DEAD = ("failed", "cancelled")


async def fail_if_blocked(
    tx: Tx, task: Task, project_id: int, deps: dict[int, str], now: Millis
) -> Task:
    """A pending task declared on a dependency that already failed fails at once."""
    dead = [(i, s) for i, s in sorted(deps.items()) if s in DEAD]
    if not dead or task.status is not Status.PENDING:
        return task
    outcome = cascade_failure(task, dead[0][0], dead[0][1], now)
    await tx.write_task(outcome.task, project_id, outcome.events, CASCADE_ACTOR, now)
    return outcome.task


async def replace_dependencies(
    tx: Tx,
    locked: Locked,
    deps: dict[int, str],
    closure: set[int],
    actor: Actor,
    now: Millis,
) -> Task:
    """PATCH depends_on (extension); ``closure`` = everything the new deps depend on."""
    task = locked.task
    if task.id in closure:
        raise InvalidInput(
            f"depends_on: a dependency cycle would include task {task.id}", field="depends_on"
        )
    updated = replace(task, depends_on=sorted(deps), updated_at=now)
    await tx.write_task(updated, locked.project_id, (EventType.UPDATED,), actor, now)
    return await fail_if_blocked(tx, updated, locked.project_id, deps, now)
