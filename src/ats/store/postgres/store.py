"""PostgreSQL store over an asyncpg pool.

Hot paths are single statements (create, bulk create, claim-next with ``SKIP LOCKED``); status
changes lock the row and go through :mod:`ats.store.transitions`. Driver errors are translated
into :mod:`ats.errors` here, at the boundary.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import asyncpg
import orjson

from ats.errors import AtsError, Conflict, InvalidInput, NotFound, Unavailable
from ats.lifecycle import Action, Complete, outputs_list
from ats.models import Actor, Event, EventType, Message, Millis, Org, Project, Task
from ats.store import sql
from ats.store.base import (
    EventQuery,
    NewTask,
    TaskQuery,
    contiguous_horizon,
    event_from_row,
    filter_args,
    message_from_row,
    order_clause,
    task_from_row,
    task_to_row,
)
from ats.store.catalog import org_from_row, project_from_row, stats_document
from ats.store.transitions import (
    Locked,
    Planned,
    attempt,
    expire,
    fail_if_blocked,
    locate,
    not_found,
    plan_batch,
    replace_dependencies,
    run,
)

Q = sql.load("ats.store.postgres")
Conn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
T = TypeVar("T")
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
MIGRATION_LOCK = 0x4154_5301  # "ATS" + 1: serialises `ats db upgrade` across processes


def _row(row: asyncpg.Record | None) -> asyncpg.Record:
    """A row the statement always returns (RETURNING of a row that is known to exist)."""
    if row is None:
        raise NotFound("the row vanished while it was being changed")
    return row


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json_text(value: Any) -> str | None:
    return None if value is None else _dumps(value)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset query (a round trip on every request).

    Nothing here leaves session state behind: transactions are closed by their context managers,
    the migration lock is released explicitly, and nothing LISTENs on pooled connections.
    """


class PgTx:
    """The :class:`~ats.store.transitions.Tx` of one PostgreSQL transaction."""

    def __init__(self, store: PostgresStore, conn: Conn | asyncpg.Pool, *, locking: bool = True):
        self.store = store
        self.conn = conn
        self._read = Q["lock_task"] if locking else Q["read_task"]

    async def _locked(self, row: asyncpg.Record | None) -> Locked | None:
        if row is None:
            return None
        path = await self.store.project_path(row["project_id"])
        blockers = [(int(i), str(s)) for i, s in row["blockers"] or []]
        return Locked(task_from_row(row, path), row["project_id"], row["version"], blockers)

    async def lock_task(self, task_id: int) -> Locked | None:
        return await self._locked(await self.conn.fetchrow(self._read, task_id))

    async def lock_expired(self, task_id: int, now: Millis) -> Locked | None:
        return await self._locked(await self.conn.fetchrow(Q["lock_expired"], task_id, now))

    async def write_task(
        self,
        read: Locked,
        task: Task,
        events: tuple[EventType, ...],
        actor: Actor,
        now: Millis,
    ) -> int | None:
        project_id = read.project_id
        r = task_to_row(task, project_id)
        version: int | None = await self.conn.fetchval(
            Q["write_task"],
            task.id, r["title"], r["description"], r["status"], r["priority"], r["type"],
            r["channel"], r["payload"], r["outputs"], r["assignee_type"], r["assignee_id"],
            r["assignee_name"], r["lease_expires"], r["lease_token"], r["attempts"], r["reason"],
            r["available_at"], r["updated_at"], r["completed_at"], r["depends_on"],
            project_id, actor.type.value, actor.id, actor.name, now, r,
            [e.value for e in events], read.version,
        )  # fmt: skip
        return version

    async def pending_dependents(self, task_id: int) -> list[int]:
        return [r["id"] for r in await self.conn.fetch(Q["pending_dependents"], task_id)]


class PostgresStore:
    kind = "postgresql"

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20) -> None:
        self.url = url
        self._min, self._max = min_size, max_size
        self._pool: asyncpg.Pool | None = None
        self._paths: dict[int, str] = {}

    # --- plumbing -------------------------------------------------------------------------------

    async def open(self) -> PostgresStore:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self._min,
                max_size=self._max,
                init=_init_connection,
                reset=_no_reset,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise Unavailable(f"cannot connect to PostgreSQL at {self.url}: {exc}") from exc
        return self

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise Unavailable("the PostgreSQL store is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[PgTx]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PgTx(self, conn)

    async def _retrying(self, body: Callable[[], Awaitable[T]]) -> T:
        """Run ``body``, retrying deadlocks between cascades; translate driver errors."""
        for round_ in range(5):
            try:
                return await body()
            except _RETRYABLE:
                if round_ == 4:
                    raise Conflict("the database kept refusing this change; try again") from None
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"already exists: {exc.detail or exc}") from exc
            except (asyncpg.DataError, asyncpg.exceptions.NumericValueOutOfRangeError) as exc:
                raise InvalidInput(f"value out of range: {exc}") from exc
            except (OSError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError) as exc:
                raise Unavailable(f"database unavailable: {exc}") from exc
        raise AssertionError("unreachable")

    async def project_path(self, project_id: int) -> str:
        path = self._paths.get(project_id)
        if path is None:
            rows = await self.pool.fetch(Q["project_paths"])
            self._paths = {r["id"]: r["path"] for r in rows}
            path = self._paths.get(project_id, "?/?")
        return path

    async def _task(self, row: asyncpg.Record, messages: list[Message] | None = None) -> Task:
        return task_from_row(row, await self.project_path(row["project_id"]), messages)

    async def ping(self) -> None:
        await self._retrying(lambda: self.pool.fetchval(Q["ping"]))

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {
                    r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")
                }
                for version, name, text in sql.migrations("ats.store.postgres"):
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(text)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            version, name,
                        )  # fmt: skip
                    applied.append(f"{version:04d}_{name}")
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return applied

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

    async def list_tasks(self, q: TaskQuery) -> tuple[list[Task], int]:
        args = filter_args(q)

        async def body() -> tuple[list[Task], int]:
            text = Q["list_tasks"].replace("{order}", order_clause(q))
            rows = await self.pool.fetch(text, *args, q.limit, q.offset)
            count = await self.pool.fetchval(Q["count_tasks"], *args)
            return [await self._task(r) for r in rows], int(count)

        return await self._retrying(body)

    async def transition(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        async def body() -> Task:
            if isinstance(action, Complete):
                row = await self.pool.fetchrow(
                    Q["complete_held"], task_id, outputs_list(action.outputs), actor.type.value,
                    actor.id, action.lease_token, now, actor.name, project_id,
                )  # fmt: skip
                if row is not None:
                    return await self._task(row)
                # not the holder's happy path: decide it the general way
            # Common case: read, decide, compare-and-set; two round trips, no transaction.
            optimistic = PgTx(self, self.pool, locking=False)
            done = await attempt(optimistic, task_id, project_id, action, actor, now)
            if done is not None:
                return done
            async with self._tx() as tx:
                return await run(tx, task_id, project_id, action, actor, now)

        return await self._retrying(body)

    async def transition_many(
        self, project_id: int | None, items: list[tuple[int, Action]], actor: Actor, now: Millis
    ) -> list[Task | AtsError]:
        async def batch() -> list[Task | AtsError | None]:
            rows = await self.pool.fetch(Q["read_tasks"], list({i for i, _ in items}))
            reads: dict[int, Locked] = {}
            reader = PgTx(self, self.pool, locking=False)
            for row in rows:
                read = await reader._locked(row)
                if read is not None:
                    reads[read.task.id] = read
            planned, results = plan_batch(items, reads, project_id, actor, now)
            if planned:
                written = await self._write_batch(planned, actor, now)
                for p in planned:
                    if p.read.task.id in written:
                        results[p.index] = p.outcome.task
            return results

        results = await self._retrying(batch)
        # Whatever the batch did not settle (lost a race, cascades, repeats) goes one by one.
        settled: list[Task | AtsError] = []
        for (task_id, action), result in zip(items, results, strict=True):
            if result is None:
                try:
                    result = await self.transition(task_id, project_id, action, actor, now)
                except AtsError as exc:
                    result = exc
            settled.append(result)
        return settled

    async def _write_batch(self, planned: list[Planned], actor: Actor, now: Millis) -> set[int]:
        rows = [(p.read, task_to_row(p.outcome.task, p.read.project_id)) for p in planned]

        def col(name: str) -> list[Any]:
            return [r[name] for _, r in rows]

        events = [(p.read.task.id, e.value, r) for p, (_, r) in zip(planned, rows, strict=True)
                  for e in p.outcome.events]  # fmt: skip
        written = await self.pool.fetch(
            Q["write_tasks"], col("id"), [read.version for read, _ in rows], col("status"),
            [_json_text(v) for v in col("outputs")], col("assignee_type"), col("assignee_id"),
            col("assignee_name"),
            col("lease_expires"), col("lease_token"), col("attempts"), col("reason"),
            col("available_at"), col("updated_at"), col("completed_at"), col("title"),
            col("description"), col("priority"), col("type"), col("channel"),
            [_dumps(v) for v in col("payload")], [e[0] for e in events], [e[1] for e in events],
            [_dumps(e[2]) for e in events],
            actor.type.value, actor.id, actor.name, now,
        )  # fmt: skip
        return {r["id"] for r in written}

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
            query = Q["claim_next" if channel is None else "claim_next_in_channel"]
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

    # --- stats and events -----------------------------------------------------------------------

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        async def body() -> dict[str, Any]:
            by_status = await self.pool.fetch(Q["stats_by_status"], project_id)
            by_channel = await self.pool.fetch(Q["stats_by_channel"], project_id)
            times = await self.pool.fetchrow(
                Q["stats_times"], project_id, now - 86_400_000, now - 7 * 86_400_000
            )
            return stats_document(
                {r["status"]: r["n"] for r in by_status},
                {r["channel"]: r["n"] for r in by_channel},
                dict(_row(times)),
            )

        return await self._retrying(body)

    async def events(self, q: EventQuery, now: Millis) -> list[Event]:
        async def body() -> list[Event]:
            # Commit order is not id order on PostgreSQL: read only up to the first gap that a
            # transaction still in flight may fill (see contiguous_horizon).
            scan = await self.pool.fetch(Q["event_ids_after"], q.since, max(q.limit, 1000))
            horizon = contiguous_horizon([(r["id"], r["created_at"]) for r in scan], q.since, now)
            if horizon <= q.since:
                return []
            rows = await self.pool.fetch(
                Q["events_after"], q.since, horizon, q.project_id, q.channel, q.task_type,
                list(q.types) or None, q.task_id, q.limit,
            )  # fmt: skip
            return [await self._event_from(r) for r in rows]

        return await self._retrying(body)

    async def _event_from(self, row: asyncpg.Record) -> Event:
        snapshot = row["task"]
        task = task_from_row(snapshot, await self.project_path(snapshot["project_id"]))
        message = None
        if row["message"] is not None:
            message = Message.from_json(row["message"])
        return event_from_row(row, task, message)

    # --- orgs and projects ----------------------------------------------------------------------

    async def list_orgs(self) -> list[Org]:
        rows = await self._retrying(lambda: self.pool.fetch(Q["list_orgs"]))
        return [org_from_row(r) for r in rows]

    async def get_org(self, slug: str) -> Org:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["get_org"], slug))
        if row is None:
            raise NotFound(f"Organization {slug!r} not found")
        return org_from_row(row)

    async def create_org(self, slug: str, name: str, now: Millis) -> Org:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["create_org"], slug, name, now))
        return org_from_row(_row(row))

    async def update_org(
        self, slug: str, new_slug: str | None, name: str | None, now: Millis
    ) -> Org:
        org = await self.get_org(slug)
        row = await self._retrying(
            lambda: self.pool.fetchrow(
                Q["update_org"], slug, new_slug or org.slug, name or org.name, now
            )
        )
        self._paths.clear()
        return org_from_row(_row(row))

    async def list_projects(self, org: str, counts: bool) -> list[Project]:
        await self.get_org(org)
        rows = await self._retrying(lambda: self.pool.fetch(Q["list_projects"], org))
        return [project_from_row(r, counts) for r in rows]

    async def get_project(self, org: str, slug: str) -> Project:
        row = await self._retrying(lambda: self.pool.fetchrow(Q["get_project"], org, slug))
        if row is None:
            raise NotFound(f"Project {org}/{slug} not found")
        return project_from_row(row, False)

    async def create_project(
        self, org: str, slug: str, name: str, description: str | None, now: Millis
    ) -> Project:
        await self.get_org(org)
        row = await self._retrying(
            lambda: self.pool.fetchrow(Q["create_project"], org, slug, name, description, now)
        )
        return project_from_row(_row(row), False)

    async def update_project(
        self,
        org: str,
        slug: str,
        new_slug: str | None,
        name: str | None,
        description: str | None,
        now: Millis,
    ) -> Project:
        p = await self.get_project(org, slug)
        row = await self._retrying(
            lambda: self.pool.fetchrow(
                Q["update_project"],
                org,
                slug,
                new_slug or p.slug,
                name or p.name,
                description if description is not None else p.description,
                now,
            )
        )
        self._paths.clear()
        return project_from_row(_row(row), False)
