"""PostgreSQL tasks: the task verbs, messages, and the counters behind stats.

Status changes take the general path — read under the row lock, :func:`ats.lifecycle.apply`,
write, in one transaction (:meth:`PgTasks.transition_general`) — unless a fast path in
:mod:`ats.store.postgres.fast` answers first: complete by the lease holder in one statement, other
changes as one unlocked read plus one compare-and-set write, batches in two statements. Create,
bulk create and claim-next (``SKIP LOCKED``) are single statements. Driver errors become
:mod:`ats.errors` in the runner (runner.py), which also retries deadlocks.
"""

from __future__ import annotations

from typing import Any

from ats.errors import AtsError, InvalidInput
from ats.lifecycle import Action
from ats.models import Actor, EventType, Message, Millis, Task
from ats.store import listing
from ats.store.base import NewTask, TaskQuery, message_from_row, task_to_row
from ats.store.counts import count_filter, recent_hours, stats_from_counts
from ats.store.postgres import fast
from ats.store.postgres.rows import Paths, row_or_gone, task_of
from ats.store.postgres.runner import QUERIES, Executor, Handle, Record, Runner
from ats.store.postgres.tx import PgTx
from ats.store.transitions import (
    Locked,
    expire,
    fail_if_blocked,
    locate,
    not_found,
    replace_dependencies,
    run,
)

DIALECT = listing.Dialect(
    queries=QUERIES,
    statuses=list,
    search=listing.like_pattern,
)


class PgTasks:
    """The :class:`~ats.store.ports.Tasks` port."""

    def __init__(self, runner: Runner, paths: Paths) -> None:
        self.runner = runner
        self.paths = paths  # the catalog's project-path cache

    async def create_tasks(
        self, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]:
        if len(specs) > 1 and not any(s.depends_on for s in specs):
            return await self._create_bulk(project_id, specs, actor, now)
        if len(specs) == 1 and not specs[0].depends_on:
            # The common case: one statement in its own implicit transaction.
            row = await self._insert(self.runner, project_id, specs[0], actor, now)
            return [await task_of(self.paths, row)]

        async def body(tx: Handle) -> list[Task]:
            return await self._create_each(tx, project_id, specs, actor, now)

        return await self.runner.transaction(body)

    async def _create_bulk(
        self, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]:
        rows = await self.runner.all(
            "create_tasks_bulk", project_id=project_id, titles=[s.title for s in specs],
            descriptions=[s.description for s in specs], priorities=[s.priority for s in specs],
            types=[s.type for s in specs], channels=[s.channel for s in specs],
            payloads=[s.payload for s in specs], actor_type=actor.type.value, actor_id=actor.id,
            actor_name=actor.name, now=now, max_attempts=[s.max_attempts for s in specs],
        )  # fmt: skip
        return [await task_of(self.paths, r) for r in rows]

    async def _create_each(
        self, tx: Handle, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]:
        created: list[Task] = []
        for spec in specs:
            deps = await _check_deps(tx, spec.depends_on)
            row = await self._insert(tx, project_id, spec, actor, now)
            task = await task_of(self.paths, row)
            if deps:
                await tx.execute("insert_deps", task_id=task.id, depends_on=list(deps))
                read = Locked(task, project_id, row["version"], [])
                task = await fail_if_blocked(PgTx(self.paths, tx), read, deps, now)
            created.append(task)
        return created

    async def _insert(
        self, on: Executor, project_id: int, s: NewTask, actor: Actor, now: Millis
    ) -> Record:
        row = await on.one(
            "create_task", project_id=project_id, title=s.title, description=s.description,
            priority=s.priority, type=s.type, channel=s.channel, payload=s.payload,
            actor_type=actor.type.value, actor_id=actor.id, actor_name=actor.name,
            max_attempts=s.max_attempts, depends_on=list(s.depends_on), now=now,
        )  # fmt: skip
        return row_or_gone(row)

    async def get_task(
        self, task_id: int, project_id: int | None, with_messages: bool = False
    ) -> Task:
        row = await self.runner.one("get_task", task_id=task_id)
        if row is None or (project_id is not None and row["project_id"] != project_id):
            raise not_found(task_id)
        messages = await self._messages(task_id) if with_messages else None
        return await task_of(self.paths, row, messages)

    async def list_tasks(self, q: TaskQuery) -> list[Task]:
        rows = await self.runner.rows(listing.list_statement(q, DIALECT))
        return [await task_of(self.paths, r) for r in rows]

    async def count_tasks(self, q: TaskQuery) -> tuple[int, bool]:
        st = listing.count_statement(q, DIALECT)
        [row] = await self.runner.rows(st)
        return listing.counted(st, int(row["n"]))

    async def transition(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        done = await fast.transition(
            self.runner, self.paths, task_id, project_id, action, actor, now
        )
        if done is not None:
            return done
        return await self.transition_general(task_id, project_id, action, actor, now)

    async def transition_general(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        """:meth:`transition` by the general path alone, the one that defines behaviour."""

        async def body(tx: Handle) -> Task:
            return await run(PgTx(self.paths, tx), task_id, project_id, action, actor, now)

        return await self.runner.transaction(body)

    async def transition_many(
        self, project_id: int | None, items: list[tuple[int, Action]], actor: Actor, now: Millis
    ) -> list[Task | AtsError]:
        results = await fast.transition_many(self.runner, self.paths, project_id, items, actor, now)
        # Whatever the batch did not settle (a lost race, a repeat, a batch of other actions than
        # complete) goes one by one, in order.
        settled: list[Task | AtsError] = []
        for (task_id, action), result in zip(items, results, strict=True):
            if result is None:
                try:
                    result = await self.transition(task_id, project_id, action, actor, now)
                except AtsError as exc:
                    result = exc
            settled.append(result)
        return settled

    async def set_dependencies(
        self, task_id: int, project_id: int | None, depends_on: list[int], actor: Actor, now: Millis
    ) -> Task:
        async def body(tx: Handle) -> Task:
            pg = PgTx(self.paths, tx)
            locked = await locate(pg, task_id, project_id)
            deps = await _check_deps(tx, tuple(depends_on))
            closure = {r["id"] for r in await tx.all("dependency_closure", ids=list(deps))}
            await tx.execute("delete_deps", task_id=task_id)
            if deps:
                await tx.execute("insert_deps", task_id=task_id, depends_on=list(deps))
            return await replace_dependencies(pg, locked, deps, closure, actor, now)

        return await self.runner.transaction(body)

    async def delete_task(
        self, task_id: int, project_id: int | None, actor: Actor, now: Millis
    ) -> None:
        async def body(tx: Handle) -> None:
            locked = await locate(PgTx(self.paths, tx), task_id, project_id)
            await tx.execute("delete_task", task_id=task_id)
            await _event(tx, EventType.DELETED, locked.task, locked.project_id, actor, now)

        await self.runner.transaction(body)

    async def claim_next(
        self,
        project_id: int | None,
        channel: str | None,
        task_type: str | None,
        lease_ms: int,
        limit: int,
        actor: Actor,
        now: Millis,
    ) -> list[Task]:
        rows = await self.runner.all(
            "claim_next_any" if channel is None else "claim_next_in_channel",
            now=now, channel=channel, task_type=task_type, project_id=project_id, limit=limit,
            actor_type=actor.type.value, actor_id=actor.id, actor_name=actor.name,
            lease_ms=lease_ms,
        )  # fmt: skip
        return [await task_of(self.paths, r) for r in rows]

    async def expire_leases(self, now: Millis, limit: int) -> int:
        candidates = await self.runner.all("expired_candidates", now=now, limit=limit)
        expired = 0
        for cand in candidates:

            async def body(tx: Handle, task_id: int = cand["id"]) -> bool:
                pg = PgTx(self.paths, tx)
                locked = await pg.lock_expired(task_id, now)
                if locked is None:
                    return False  # another reaper has it, or it was completed meanwhile
                await expire(pg, locked, now)
                return True

            expired += await self.runner.transaction(body)
        return expired

    # --- messages -------------------------------------------------------------------------------

    async def add_message(
        self,
        task_id: int,
        project_id: int | None,
        parts: list[dict[str, Any]],
        actor: Actor,
        now: Millis,
    ) -> Message:
        async def body(tx: Handle) -> Message:
            locked = await locate(PgTx(self.paths, tx), task_id, project_id)
            inserted = await tx.one(
                "insert_message", task_id=task_id, actor_type=actor.type.value, actor_id=actor.id,
                actor_name=actor.name, parts=parts, now=now,
            )  # fmt: skip
            row = row_or_gone(inserted)
            message = message_from_row(row, row["parts"])
            touched = row_or_gone(await tx.one("touch_task", task_id=task_id, now=now))
            task = await task_of(self.paths, touched)
            await _event(tx, EventType.MESSAGE, task, locked.project_id, actor, now, message)
            return message

        return await self.runner.transaction(body)

    async def _messages(self, task_id: int) -> list[Message]:
        rows = await self.runner.all("list_messages", task_id=task_id)
        return [message_from_row(r, r["parts"]) for r in rows]

    async def list_messages(self, task_id: int, project_id: int | None) -> list[Message]:
        task = await self.get_task(task_id, project_id)
        return await self._messages(task.id)

    # --- counters -------------------------------------------------------------------------------

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        hour_24h, hour_7d = recent_hours(now)
        rows = await self.runner.all("stats_counts", project_id=project_id)
        recent = await self.runner.one(
            "stats_recent", project_id=project_id, hour_24h=hour_24h, hour_7d=hour_7d
        )
        return stats_from_counts(rows, recent)

    async def exact_count(self, q: TaskQuery) -> int | None:
        found = count_filter(q)
        if found is None:
            return None
        project_id, statuses, channel, task_type = found
        n = await self.runner.value(
            "count_tasks_exact", project_id=project_id, statuses=statuses, channel=channel,
            type=task_type,
        )  # fmt: skip
        return int(n)


async def _check_deps(tx: Handle, deps: tuple[int, ...]) -> dict[int, str]:
    """The status of each dependency (share-locked), or InvalidInput naming the missing ones."""
    if not deps:
        return {}
    rows = await tx.all("deps_status", ids=list(deps))
    found = {r["id"]: r["status"] for r in rows}
    missing = [d for d in deps if d not in found]
    if missing:
        raise InvalidInput(
            f"depends_on: task {', '.join(f'#{m}' for m in missing)} does not exist",
            field="depends_on",
        )
    return found


async def _event(
    tx: Handle,
    kind: EventType,
    task: Task,
    project_id: int,
    actor: Actor,
    now: Millis,
    message: Message | None = None,
) -> None:
    await tx.execute(
        "insert_event", type=kind.value, task_id=task.id, project_id=project_id,
        channel=task.channel, task_type=task.type, actor_type=actor.type.value, actor_id=actor.id,
        actor_name=actor.name, now=now, task=task_to_row(task, project_id),
        message=message.to_json() if message else None,
    )  # fmt: skip
