"""PostgreSQL fast paths: status changes answered without the general path's transaction.

The general path (:func:`ats.store.transitions.run`, ``PgTasks.transition_general``) costs
BEGIN, a locking read, the write and COMMIT: four round trips, and the row lock queues writers.
The functions here answer the hot verbs in fewer. Each one gives up — returns None, or leaves an
item None — whenever it cannot be sure of the general path's answer, and the store then runs the
general path. ``tests/store/test_fast_paths.py`` holds them to it over every status, actor and
lease-token case.

* :func:`complete_held` — ``complete`` by the caller holding the task: one statement
  (``complete_held`` in queries.sql). It updates nothing unless the task is in_progress, assigned
  to the caller, in the caller's project and the lease token (when given) is current — the case
  lifecycle.apply always allows. Anything else falls through to :func:`attempt`.
* :func:`attempt` — every other single change, ``fail`` included (it has no statement of its
  own): an unlocked read, lifecycle.apply, a compare-and-set write (``read_task``, ``write_task``):
  two round trips, no transaction; a refusal is answered from the read alone. Gives up when the
  outcome cascades (a fail or cancel that succeeds: the dependents are failed under the row
  lock) or when the row changed between read and write three times running.
* :func:`transition_many` — batch complete: one read of every row (``read_tasks``),
  lifecycle.apply per item, one ``write_tasks`` statement that compare-and-sets them all. Items it
  does not settle (a row that changed meanwhile, a task named twice) stay None and the store runs
  them one by one, in order. A batch with any action other than complete is not taken here at
  all: its items may depend on one another (see the function).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ats.errors import AtsError
from ats.jsontext import dumps_text
from ats.lifecycle import Action, Complete, Outcome, apply, outputs_list
from ats.models import Actor, Millis, Task
from ats.store.base import task_to_row
from ats.store.postgres.rows import Paths, json_text, task_of
from ats.store.postgres.runner import Runner
from ats.store.postgres.tx import PgTx
from ats.store.transitions import Locked, Tx, cascades, locate, not_found


async def transition(
    runner: Runner,
    paths: Paths,
    task_id: int,
    project_id: int | None,
    action: Action,
    actor: Actor,
    now: Millis,
) -> Task | None:
    """The fast answer to one status change, or None: run the general path."""
    if isinstance(action, Complete):
        done = await complete_held(runner, paths, task_id, project_id, action, actor, now)
        if done is not None:
            return done
    optimistic = PgTx(paths, runner, locking=False)
    return await attempt(optimistic, task_id, project_id, action, actor, now)


async def complete_held(
    runner: Runner,
    paths: Paths,
    task_id: int,
    project_id: int | None,
    action: Complete,
    actor: Actor,
    now: Millis,
) -> Task | None:
    """Complete a task the caller holds, with its event, in one statement; None if not held."""
    row = await runner.one(
        "complete_held", task_id=task_id, outputs=outputs_list(action.outputs),
        actor_type=actor.type.value, actor_id=actor.id, lease_token=action.lease_token, now=now,
        actor_name=actor.name, project_id=project_id,
    )  # fmt: skip
    if row is None:
        return None
    return await task_of(paths, row)


async def attempt(
    tx: Tx,
    task_id: int,
    project_id: int | None,
    action: Action,
    actor: Actor,
    now: Millis,
    tries: int = 3,
) -> Task | None:
    """Read without a lock, decide, compare-and-set; None when the locked path must decide."""
    for _ in range(tries):
        read = await locate(tx, task_id, project_id)
        outcome = apply(read.task, action, actor, now, read.blockers)
        if cascades(read, outcome):
            return None
        if await tx.write_task(read, outcome.task, outcome.events, actor, now) is not None:
            return outcome.task
    return None  # heavily contended: let the row lock queue the writers


@dataclass(frozen=True, slots=True)
class Planned:
    index: int
    read: Locked
    outcome: Outcome


async def transition_many(
    runner: Runner,
    paths: Paths,
    project_id: int | None,
    items: list[tuple[int, Action]],
    actor: Actor,
    now: Millis,
) -> list[Task | AtsError | None]:
    """A batch in two round trips; per item the answer, or None: run it one by one.

    Only a batch of completes is decided from one read: a complete reads and writes its own row
    alone, so completes of different tasks give the same answers in any order. Other actions
    reach across tasks (a failure fails the pending dependents, a claim waits on dependencies),
    and deciding them all from one read would answer as if none of the earlier items had run.
    """
    if not all(isinstance(action, Complete) for _, action in items):
        return [None] * len(items)
    rows = await runner.all("read_tasks", ids=list({i for i, _ in items}))
    reader = PgTx(paths, runner, locking=False)
    reads: dict[int, Locked] = {}
    for row in rows:
        read = await reader.locked(row)
        if read is not None:
            reads[read.task.id] = read
    planned, results = plan_batch(items, reads, project_id, actor, now)
    if planned:
        written = await _write_batch(runner, planned, actor, now)
        for p in planned:
            if p.read.task.id in written:
                results[p.index] = p.outcome.task
    return results


def plan_batch(
    items: list[tuple[int, Action]],
    reads: dict[int, Locked],
    project_id: int | None,
    actor: Actor,
    now: Millis,
) -> tuple[list[Planned], list[Task | AtsError | None]]:
    """Decide a batch of transitions from one read of their rows.

    Returns the writes to attempt together and, per item, a settled answer (an error) or None:
    None means "not decided here" — planned, or left for the one-by-one path (a cascade, or the
    same task twice in the batch).
    """
    planned: list[Planned] = []
    results: list[Task | AtsError | None] = [None] * len(items)
    taken: set[int] = set()
    for index, (task_id, action) in enumerate(items):
        read = reads.get(task_id)
        if read is None or (project_id is not None and read.project_id != project_id):
            results[index] = not_found(task_id)
            continue
        if task_id in taken:
            continue
        try:
            outcome = apply(read.task, action, actor, now, read.blockers)
        except AtsError as exc:
            results[index] = exc
            continue
        if not cascades(read, outcome):
            planned.append(Planned(index, read, outcome))
            taken.add(task_id)
    return planned, results


async def _write_batch(
    runner: Runner, planned: list[Planned], actor: Actor, now: Millis
) -> set[int]:
    """``write_tasks``: the ids whose row was still at the version read (and is now written)."""
    rows = [(p.read, task_to_row(p.outcome.task, p.read.project_id)) for p in planned]

    def col(name: str) -> list[Any]:
        return [r[name] for _, r in rows]

    events = [(p.read.task.id, e.value, r) for p, (_, r) in zip(planned, rows, strict=True)
              for e in p.outcome.events]  # fmt: skip
    written = await runner.all(
        "write_tasks", ids=col("id"), versions=[read.version for read, _ in rows],
        statuses=col("status"), outputs=[json_text(v) for v in col("outputs")],
        assignee_types=col("assignee_type"), assignee_ids=col("assignee_id"),
        assignee_names=col("assignee_name"), lease_expires=col("lease_expires"),
        lease_tokens=col("lease_token"), attempts=col("attempts"), reasons=col("reason"),
        available_ats=col("available_at"), updated_ats=col("updated_at"),
        completed_ats=col("completed_at"), titles=col("title"), descriptions=col("description"),
        priorities=col("priority"), types=col("type"), channels=col("channel"),
        payloads=[dumps_text(v) for v in col("payload")], event_task_ids=[e[0] for e in events],
        event_types=[e[1] for e in events], event_snapshots=[dumps_text(e[2]) for e in events],
        actor_type=actor.type.value, actor_id=actor.id, actor_name=actor.name, now=now,
    )  # fmt: skip
    return {r["id"] for r in written}
