"""PostgreSQL store: the task verbs.

Status changes take the general path — read under the row lock, :func:`ats.lifecycle.apply`,
write, in one transaction (:meth:`PostgresStore.transition_general`) — unless a fast path in
:mod:`ats.store.postgres.fast` answers first: complete by the lease holder in one statement, other
changes as one unlocked read plus one compare-and-set write, batches in two statements. Create,
bulk create and claim-next (``SKIP LOCKED``) are single statements. Driver errors become
:mod:`ats.errors` in ``_retrying`` (connection.py), at the boundary.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ats.errors import AtsError, InvalidInput
from ats.lifecycle import Action
from ats.models import Actor, EventType, Message, Millis, Task
from ats.store import listing, sql
from ats.store.base import (
    NewTask,
    TaskQuery,
    message_from_row,
    task_to_row,
)
from ats.store.postgres import fast
from ats.store.postgres.connection import Q, _row
from ats.store.postgres.feed import PgFeed
from ats.store.postgres.upkeep import PgUpkeep
from ats.store.transitions import (
    Locked,
    expire,
    fail_if_blocked,
    locate,
    not_found,
    replace_dependencies,
    run,
)

CLAIM_ANY = Q["claim_next"].replace("{channel}", "$2::text IS NULL")
CLAIM_IN_CHANNEL = Q["claim_next"].replace("{channel}", "t.channel = $2")


DIALECT = listing.Dialect(
    queries=Q,
    statuses=list,
    search=listing.like_pattern,
)


class PostgresStore(PgFeed, PgUpkeep):
    # --- tasks ----------------------------------------------------------------------------------

    async def create_tasks(
        self, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]:
        if len(specs) > 1 and not any(s.depends_on for s in specs):
            return await self._retrying(lambda: self._create_bulk(project_id, specs, actor, now))
        return await self._retrying(lambda: self._create_each(project_id, specs, actor, now))

    async def _create_bulk(
        self, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]:
        rows = await self.pool.fetch(
            Q["create_tasks_bulk"], project_id,
            [s.title for s in specs], [s.description for s in specs],
            [s.priority for s in specs], [s.type for s in specs], [s.channel for s in specs],
            [s.payload for s in specs], actor.type.value, actor.id, actor.name, now,
            [s.max_attempts for s in specs],
        )  # fmt: skip
        return [await self._task(r) for r in rows]

    async def _create_each(
        self, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]:
        if len(specs) == 1 and not specs[0].depends_on:
            # The common case: one statement in its own implicit transaction.
            return [
                await self._task(await self._insert(self.pool, project_id, specs[0], actor, now))
            ]
        created: list[Task] = []
        async with self._tx() as tx:
            for spec in specs:
                deps = await self._check_deps(tx.conn, spec.depends_on)
                row = await self._insert(tx.conn, project_id, spec, actor, now)
                task = await self._task(row)
                if deps:
                    await tx.conn.execute(Q["insert_deps"], task.id, list(deps))
                    read = Locked(task, project_id, row["version"], [])
                    task = await fail_if_blocked(tx, read, deps, now)
                created.append(task)
        return created

    async def _insert(
        self, conn: Any, project_id: int, s: NewTask, actor: Actor, now: Millis
    ) -> asyncpg.Record:
        row: asyncpg.Record = await conn.fetchrow(
            Q["create_task"], project_id, s.title, s.description, s.priority, s.type, s.channel,
            s.payload, actor.type.value, actor.id, actor.name, s.max_attempts,
            list(s.depends_on), now,
        )  # fmt: skip
        return row

    async def _check_deps(self, conn: Any, deps: tuple[int, ...]) -> dict[int, str]:
        if not deps:
            return {}
        rows = await conn.fetch(Q["deps_status"], list(deps))
        found = {r["id"]: r["status"] for r in rows}
        missing = [d for d in deps if d not in found]
        if missing:
            raise InvalidInput(
                f"depends_on: task {', '.join(f'#{m}' for m in missing)} does not exist",
                field="depends_on",
            )
        return found

    async def get_task(
        self, task_id: int, project_id: int | None, with_messages: bool = False
    ) -> Task:
        async def body() -> Task:
            row = await self.pool.fetchrow(Q["get_task"], task_id)
            if row is None or (project_id is not None and row["project_id"] != project_id):
                raise not_found(task_id)
            messages = await self._messages(task_id) if with_messages else None
            return await self._task(row, messages)

        return await self._retrying(body)

    async def list_tasks(self, q: TaskQuery) -> list[Task]:
        st = listing.list_statement(q, DIALECT)
        text, args = sql.bind(st.text, st.params)

        async def body() -> list[Task]:
            return [await self._task(r) for r in await self.pool.fetch(text, *args)]

        return await self._retrying(body)

    async def count_tasks(self, q: TaskQuery) -> tuple[int, bool]:
        st = listing.count_statement(q, DIALECT)
        text, args = sql.bind(st.text, st.params)

        async def body() -> tuple[int, bool]:
            return listing.counted(st, int(await self.pool.fetchval(text, *args)))

        return await self._retrying(body)

    async def transition(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        async def body() -> Task:
            done = await fast.transition(self, task_id, project_id, action, actor, now)
            if done is not None:
                return done
            return await self._run(task_id, project_id, action, actor, now)

        return await self._retrying(body)

    async def transition_general(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        """:meth:`transition` by the general path alone, the one that defines behaviour."""
        return await self._retrying(lambda: self._run(task_id, project_id, action, actor, now))

    async def _run(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        async with self._tx() as tx:
            return await run(tx, task_id, project_id, action, actor, now)

    async def transition_many(
        self, project_id: int | None, items: list[tuple[int, Action]], actor: Actor, now: Millis
    ) -> list[Task | AtsError]:
        results = await self._retrying(
            lambda: fast.transition_many(self, project_id, items, actor, now)
        )
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
        async def body() -> Task:
            async with self._tx() as tx:
                locked = await locate(tx, task_id, project_id)
                deps = await self._check_deps(tx.conn, tuple(depends_on))
                closure = {
                    r["id"] for r in await tx.conn.fetch(Q["dependency_closure"], list(deps))
                }
                await tx.conn.execute(Q["delete_deps"], task_id)
                if deps:
                    await tx.conn.execute(Q["insert_deps"], task_id, list(deps))
                return await replace_dependencies(tx, locked, deps, closure, actor, now)

        return await self._retrying(body)

    async def delete_task(
        self, task_id: int, project_id: int | None, actor: Actor, now: Millis
    ) -> None:
        async def body() -> None:
            async with self._tx() as tx:
                locked = await locate(tx, task_id, project_id)
                await tx.conn.execute(Q["delete_task"], task_id)
                await self._event(
                    tx.conn, EventType.DELETED, locked.task, locked.project_id, actor, now
                )

        await self._retrying(body)

    async def _event(
        self,
        conn: Any,
        kind: EventType,
        task: Task,
        project_id: int,
        actor: Actor,
        now: Millis,
        message: Message | None = None,
    ) -> None:
        await conn.execute(
            Q["insert_event"], kind.value, task.id, project_id, task.channel, task.type,
            actor.type.value, actor.id, actor.name, now, task_to_row(task, project_id),
            message.to_json() if message else None,
        )  # fmt: skip

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
        async def body() -> list[Task]:
            query = CLAIM_ANY if channel is None else CLAIM_IN_CHANNEL
            rows = await self.pool.fetch(
                query, now, channel, task_type, project_id, limit,
                actor.type.value, actor.id, actor.name, lease_ms,
            )  # fmt: skip
            return [await self._task(r) for r in rows]

        return await self._retrying(body)

    async def expire_leases(self, now: Millis, limit: int) -> int:
        candidates = await self._retrying(
            lambda: self.pool.fetch(Q["expired_candidates"], now, limit)
        )
        expired = 0
        for cand in candidates:

            async def body(task_id: int = cand["id"]) -> bool:
                async with self._tx() as tx:
                    locked = await tx.lock_expired(task_id, now)
                    if locked is None:
                        return False  # another reaper has it, or it was completed meanwhile
                    await expire(tx, locked, now)
                    return True

            expired += await self._retrying(body)
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
        async def body() -> Message:
            async with self._tx() as tx:
                locked = await locate(tx, task_id, project_id)
                row = await tx.conn.fetchrow(
                    Q["insert_message"], task_id, actor.type.value, actor.id, actor.name, parts, now
                )
                message = message_from_row(_row(row), _row(row)["parts"])
                task = await self._task(_row(await tx.conn.fetchrow(Q["touch_task"], task_id, now)))
                await self._event(
                    tx.conn, EventType.MESSAGE, task, locked.project_id, actor, now, message
                )
                return message

        return await self._retrying(body)

    async def _messages(self, task_id: int) -> list[Message]:
        rows = await self.pool.fetch(Q["list_messages"], task_id)
        return [message_from_row(r, r["parts"]) for r in rows]

    async def list_messages(self, task_id: int, project_id: int | None) -> list[Message]:
        task = await self.get_task(task_id, project_id)
        return await self._retrying(lambda: self._messages(task.id))
