"""How a status change is carried out, written once for both backends: the general path.

The backend hands over a :class:`Tx`; :func:`run` reads the task, asks :mod:`ats.lifecycle` for
the outcome, writes it with its events as a compare-and-set on the row's ``version``, and fails
the pending dependents of a task that failed or was cancelled (recursively, SPEC §2.2). It runs
inside a transaction whose ``lock_task`` locks the row (SQLite: ``BEGIN IMMEDIATE`` already does).

This path defines behaviour. The shortcuts each backend takes for its hot verbs (complete by the
lease holder, an unlocked read-then-compare-and-set, a batch written in one statement) live in
``postgres/fast.py`` and ``sqlite/fast.py``; ``tests/store/test_fast_paths.py`` holds them to the
answers this module gives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from ats.errors import Conflict, InvalidInput, NotFound
from ats.lifecycle import (
    CASCADE_ACTOR,
    CASCADING,
    Action,
    ExpireLease,
    Outcome,
    apply,
    cascade_failure,
)
from ats.models import SYSTEM, Actor, EventType, Millis, Status, Task


@dataclass(frozen=True, slots=True)
class Locked:
    """A task as read, with the row version a write must still find."""

    task: Task
    project_id: int
    version: int
    blockers: list[tuple[int, str]]


class Tx(Protocol):
    async def lock_task(self, task_id: int) -> Locked | None: ...

    async def write_task(
        self,
        read: Locked,
        task: Task,
        events: tuple[EventType, ...],
        actor: Actor,
        now: Millis,
    ) -> int | None:
        """Write ``task`` and append ``events`` if the row is still at ``read.version``.

        Returns the new version, or None (nothing written) when the row changed since.
        """
        ...

    async def pending_dependents(self, task_id: int) -> list[int]: ...


def not_found(task_id: int) -> NotFound:
    return NotFound(f"Task {task_id} not found", task_id=task_id)


async def locate(tx: Tx, task_id: int, project_id: int | None) -> Locked:
    locked = await tx.lock_task(task_id)
    if locked is None or (project_id is not None and locked.project_id != project_id):
        raise not_found(task_id)
    return locked


def cascades(read: Locked, outcome: Outcome) -> bool:
    """Whether writing ``outcome`` must also fail the pending dependents (a fresh failure)."""
    status = outcome.task.status
    return status in CASCADING and status is not read.task.status


async def write(tx: Tx, read: Locked, outcome: Outcome, actor: Actor, now: Millis) -> Locked:
    """Write under the row lock (so the version always matches), then cascade if due."""
    version = await tx.write_task(read, outcome.task, outcome.events, actor, now)
    if version is None:
        raise Conflict(f"Task {read.task.id} changed while it was locked; try again")
    if cascades(read, outcome):
        await cascade(tx, outcome.task, now)
    return replace(read, task=outcome.task, version=version)


async def run(
    tx: Tx, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
) -> Task:
    """The general path: read under the row lock → lifecycle.apply → write (and cascade)."""
    read = await locate(tx, task_id, project_id)
    outcome = apply(read.task, action, actor, now, read.blockers)
    return (await write(tx, read, outcome, actor, now)).task


async def cascade(tx: Tx, failed: Task, now: Millis) -> None:
    """Fail every pending task that (transitively) depends on ``failed``.

    Always asks for dependents rather than trusting a flag read earlier: a dependent created
    concurrently is visible to this (later) statement.
    """
    queue = [failed]
    while queue:
        dependency = queue.pop(0)
        for child_id in await tx.pending_dependents(dependency.id):
            read = await tx.lock_task(child_id)
            if read is None or read.task.status is not Status.PENDING:
                continue
            outcome = cascade_failure(read.task, dependency.id, dependency.status.value, now)
            await tx.write_task(read, outcome.task, outcome.events, CASCADE_ACTOR, now)
            queue.append(outcome.task)


async def expire(tx: Tx, read: Locked, now: Millis) -> Task:
    """The reaper's step for one task whose lease ran out (the row is locked)."""
    outcome = apply(read.task, ExpireLease(), SYSTEM, now, [])
    return (await write(tx, read, outcome, SYSTEM, now)).task


DEAD = ("failed", "cancelled")


async def fail_if_blocked(tx: Tx, read: Locked, deps: dict[int, str], now: Millis) -> Task:
    """A pending task declared on a dependency that already failed fails at once."""
    dead = [(i, s) for i, s in sorted(deps.items()) if s in DEAD]
    if not dead or read.task.status is not Status.PENDING:
        return read.task
    outcome = cascade_failure(read.task, dead[0][0], dead[0][1], now)
    return (await write(tx, read, outcome, CASCADE_ACTOR, now)).task


async def replace_dependencies(
    tx: Tx,
    read: Locked,
    deps: dict[int, str],
    closure: set[int],
    actor: Actor,
    now: Millis,
) -> Task:
    """PATCH depends_on (extension); ``closure`` = everything the new deps depend on."""
    task = read.task
    if task.id in closure:
        raise InvalidInput(
            f"depends_on: a dependency cycle would include task {task.id}", field="depends_on"
        )
    updated = replace(task, depends_on=sorted(deps), updated_at=now)
    after = await write(tx, read, Outcome(updated, (EventType.UPDATED,)), actor, now)
    return await fail_if_blocked(tx, after, deps, now)
