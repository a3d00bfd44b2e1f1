"""SQLite store: one connection in WAL mode, used from the event loop thread.

Statements here take tens of microseconds (WAL, ``synchronous=NORMAL``: no fsync per commit), which
is less than handing each one to a worker thread would cost, so they run inline. A write holds an
asyncio lock from ``BEGIN IMMEDIATE`` to ``COMMIT``; no ``await`` inside it ever suspends, so the
transaction is also atomic with respect to other coroutines. A crash of the process loses nothing
that was committed (WAL survives it; only an OS crash can drop the last commits).

Status changes take the general path (:func:`ats.store.transitions.run` inside the write
transaction, :meth:`SqliteStore.transition_general`) unless :mod:`ats.store.sqlite.fast` answers
first (complete by the lease holder, one statement).
"""

from __future__ import annotations

from typing import Any

from ats.errors import AtsError, InvalidInput
from ats.lifecycle import Action
from ats.models import Actor, EventType, Message, Millis, Task
from ats.store import listing
from ats.store.base import (
    NewTask,
    TaskQuery,
    message_from_row,
    task_to_row,
)
from ats.store.sqlite import fast
from ats.store.sqlite.connection import Q, _decoded, _dumps, _translated
from ats.store.sqlite.feed import SqliteFeed
from ats.store.sqlite.upkeep import SqliteUpkeep
from ats.store.transitions import (
    Locked,
    expire,
    fail_if_blocked,
    locate,
    not_found,
    replace_dependencies,
    run,
)

CLAIM_ANY = Q["claim_next"].replace("{index}", "tasks_claimable").replace("{channel}", "?2 IS NULL")
CLAIM_IN_CHANNEL = (
    Q["claim_next"]
    .replace("{index}", "tasks_claimable_channel")
    .replace("{channel}", "t.channel = ?2")
)

DIALECT = listing.Dialect(
    queries=Q,
    statuses=_dumps,
    # One FTS5 phrase (a `"` inside is doubled): matches it as a substring, `%` and `_` included.
    search=lambda text: '"' + text.replace('"', '""') + '"',
)


class SqliteStore(SqliteFeed, SqliteUpkeep):
    # --- tasks ----------------------------------------------------------------------------------

    async def create_tasks(
        self, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]:
        created: list[Task] = []
        async with self._write() as tx:
            for s in specs:
                deps = self._check_deps(s.depends_on)
                row = _decoded(
                    self.db.execute(
                        Q["create_task"],
                        (
                            project_id, s.title, s.description, s.priority, s.type, s.channel,
                            _dumps(s.payload), actor.type.value, actor.id, actor.name,
                            s.max_attempts, _dumps(list(s.depends_on)), now,
                        ),
                    ).fetchone()
                )  # fmt: skip
                tx.event(EventType.CREATED, row, actor, now)
                task = self._task(row)
                if deps:
                    self.db.execute(Q["insert_deps"], (task.id, _dumps(list(deps))))
                    read = Locked(task, project_id, row["version"], [])
                    task = await fail_if_blocked(tx, read, deps, now)
                created.append(task)
        return created

    def _check_deps(self, deps: tuple[int, ...] | list[int]) -> dict[int, str]:
        if not deps:
            return {}
        found = {r["id"]: r["status"] for r in self._all("deps_status", _dumps(list(deps)))}
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
        row = self._one("get_task", task_id)
        if row is None or (project_id is not None and row["project_id"] != project_id):
            raise not_found(task_id)
        return self._task(row, self._messages(task_id) if with_messages else None)

    async def list_tasks(self, q: TaskQuery) -> list[Task]:
        st = listing.list_statement(q, DIALECT)
        with _translated():
            return [self._task(_decoded(r)) for r in self.db.execute(st.text, st.params)]

    async def count_tasks(self, q: TaskQuery) -> tuple[int, bool]:
        st = listing.count_statement(q, DIALECT)
        with _translated():
            return listing.counted(st, int(self.db.execute(st.text, st.params).fetchone()["n"]))

    async def transition(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        async with self._write() as tx:
            done = fast.transition(tx, task_id, project_id, action, actor, now)
            if done is not None:
                return done
            return await run(tx, task_id, project_id, action, actor, now)

    async def transition_general(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        """:meth:`transition` by the general path alone, the one that defines behaviour."""
        async with self._write() as tx:
            return await run(tx, task_id, project_id, action, actor, now)

    async def transition_many(
        self, project_id: int | None, items: list[tuple[int, Action]], actor: Actor, now: Millis
    ) -> list[Task | AtsError]:
        # One write transaction; a refused item raises before it writes anything.
        results: list[Task | AtsError] = []
        async with self._write() as tx:
            for task_id, action in items:
                try:
                    results.append(await run(tx, task_id, project_id, action, actor, now))
                except AtsError as exc:
                    results.append(exc)
        return results

    async def set_dependencies(
        self, task_id: int, project_id: int | None, depends_on: list[int], actor: Actor, now: Millis
    ) -> Task:
        async with self._write() as tx:
            locked = await locate(tx, task_id, project_id)
            deps = self._check_deps(depends_on)
            closure = {r["id"] for r in self._all("dependency_closure", _dumps(list(deps)))}
            self.db.execute(Q["delete_deps"], (task_id,))
            if deps:
                self.db.execute(Q["insert_deps"], (task_id, _dumps(list(deps))))
            return await replace_dependencies(tx, locked, deps, closure, actor, now)

    async def delete_task(
        self, task_id: int, project_id: int | None, actor: Actor, now: Millis
    ) -> None:
        async with self._write() as tx:
            locked = await locate(tx, task_id, project_id)
            self.db.execute(Q["delete_task"], (task_id,))
            tx.event(EventType.DELETED, task_to_row(locked.task, locked.project_id), actor, now)

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
        async with self._write() as tx:
            rows = [
                _decoded(r)
                for r in self.db.execute(
                    CLAIM_ANY if channel is None else CLAIM_IN_CHANNEL,
                    (
                        now, channel, task_type, project_id, limit, actor.type.value, actor.id,
                        actor.name, lease_ms,
                    ),
                )
            ]  # fmt: skip
            # RETURNING order is unspecified in SQLite: hand out best first, as PostgreSQL does.
            rows.sort(key=lambda r: (-r["priority"], r["id"]))
            for row in rows:
                tx.event(EventType.CLAIMED, row, actor, now)
        return [self._task(r) for r in rows]

    async def expire_leases(self, now: Millis, limit: int) -> int:
        expired = 0
        for cand in self._all("expired_candidates", now, limit):
            async with self._write() as tx:
                locked = await tx.lock_expired(cand["id"], now)
                if locked is not None:
                    await expire(tx, locked, now)
                    expired += 1
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
        async with self._write() as tx:
            locked = await locate(tx, task_id, project_id)
            row = _decoded(
                self.db.execute(
                    Q["insert_message"],
                    (task_id, actor.type.value, actor.id, actor.name, _dumps(parts), now),
                ).fetchone()
            )
            message = message_from_row(row, row["parts"])
            touched = _decoded(self.db.execute(Q["touch_task"], (task_id, now)).fetchone())
            tx.event(EventType.MESSAGE, touched, actor, now, message)
            del locked
            return message

    def _messages(self, task_id: int) -> list[Message]:
        return [message_from_row(r, r["parts"]) for r in self._all("list_messages", task_id)]

    async def list_messages(self, task_id: int, project_id: int | None) -> list[Message]:
        task = await self.get_task(task_id, project_id)
        return self._messages(task.id)
