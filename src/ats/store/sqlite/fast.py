"""SQLite fast path: ``complete`` by the lease holder in one statement.

Every status change runs inside the store's write transaction (``BEGIN IMMEDIATE``), where the
general path (:func:`ats.store.transitions.run`: read, lifecycle.apply, write) costs a few tens of
microseconds and no row can change under it, so there is no optimistic path to take. The one
shortcut kept is the hottest verb: :func:`complete_held` (``complete_held`` in queries.sql)
completes a task that is in_progress, assigned to the caller, in the caller's project and whose
lease token (when given) is current — the case lifecycle.apply always allows — and appends its
task.completed event. It updates nothing otherwise, and the store runs the general path in the
same transaction, which gives the precise answer or error.

``fail`` and batch complete have no fast path here: a batch runs the general path item by item in
one transaction (``read_tasks`` and ``write_tasks`` are empty, kept for name parity with
PostgreSQL). ``tests/store/test_fast_paths.py`` checks the shortcut against the general path.
"""

from __future__ import annotations

from ats.lifecycle import Action, Complete, outputs_list
from ats.models import Actor, EventType, Millis, Task
from ats.store.sqlite.runner import dumps
from ats.store.sqlite.tx import SqliteTx


def transition(
    tx: SqliteTx,
    task_id: int,
    project_id: int | None,
    action: Action,
    actor: Actor,
    now: Millis,
) -> Task | None:
    """The fast answer to one status change, or None: run the general path."""
    if isinstance(action, Complete):
        return complete_held(tx, task_id, project_id, action, actor, now)
    return None


def complete_held(
    tx: SqliteTx,
    task_id: int,
    project_id: int | None,
    action: Complete,
    actor: Actor,
    now: Millis,
) -> Task | None:
    """Complete a task the caller holds and append its event; None if not held."""
    row = tx.statements.one(
        "complete_held", task_id=task_id, outputs=dumps(outputs_list(action.outputs)),
        actor_type=actor.type.value, actor_id=actor.id, lease_token=action.lease_token, now=now,
        project_id=project_id,
    )  # fmt: skip
    if row is None:
        return None
    tx.event(EventType.COMPLETED, row, actor, now)
    return tx.task(row)
