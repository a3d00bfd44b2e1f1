"""PostgreSQL plumbing: the asyncpg pool, the transaction handle, error translation, migrations."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self, TypeAlias, TypeVar

import asyncpg

from ats import redact
from ats.errors import Conflict, InvalidInput, NotFound, Unavailable
from ats.jsontext import dumps_text, loads
from ats.models import Actor, EventType, Message, Millis, Task
from ats.store import sql
from ats.store.base import (
    task_from_row,
    task_to_row,
)
from ats.store.postgres.signals import PgSignals
from ats.store.transitions import (
    Locked,
)

Q = sql.load("ats.store.postgres")
Conn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
T = TypeVar("T")
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
# The database is out of reach, going down, coming up, or full: the request may work again
# later (503). Not retried here: a write whose connection died may have committed, and only
# the caller can tell whether to try again.
_UNAVAILABLE = (
    OSError,  # refused, reset, timed out (TimeoutError is an OSError)
    asyncpg.InterfaceError,  # the connection is closed or closing
    asyncpg.InternalClientError,  # asyncpg caught between states when a connection died
    asyncpg.PostgresConnectionError,  # class 08: connection lost / does not exist / refused
    asyncpg.OperatorInterventionError,  # class 57: shutdown, crash, starting up, cancelled
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.ReadOnlySQLTransactionError,  # a standby, seen while a failover is under way
)
MIGRATION_LOCK = 0x4154_5301  # "ATS" + 1: serialises `ats db upgrade` across processes


def _row(row: asyncpg.Record | None) -> asyncpg.Record:
    """A row the statement always returns (RETURNING of a row that is known to exist)."""
    if row is None:
        raise NotFound("the row vanished while it was being changed")
    return row


def _dumps(value: Any) -> str:
    return dumps_text(value)


def _json_text(value: Any) -> str | None:
    return None if value is None else _dumps(value)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_dumps, decoder=loads, schema="pg_catalog")


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset query (a round trip on every request).

    Nothing here leaves session state behind: transactions are closed by their context managers,
    the migration lock is released explicitly, and nothing LISTENs on pooled connections.
    """


class PgTx:
    """The :class:`~ats.store.transitions.Tx` of one PostgreSQL transaction."""

    def __init__(self, store: PgConnection, conn: Conn | asyncpg.Pool, *, locking: bool = True):
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


class PgConnection:
    """Connection plumbing, migrations and the project-path cache."""

    kind = "postgresql"

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20) -> None:
        self.url = url
        self._min, self._max = min_size, max_size
        self._pool: asyncpg.Pool | None = None
        self._paths: dict[int, str] = {}
        self._signals: PgSignals | None = None
        self._listeners: list[Callable[[], None]] = []
        self._feed_clock: str | None = None  # the feed clock as this process last set it
        self._feed_trimmed = 0  # feed rows this process deleted since it last vacuumed them

    # Transitional: the backend is still one class; it stands in for every port until split.
    @property
    def tasks(self) -> Self:
        return self

    @property
    def events(self) -> Self:
        return self

    @property
    def feed(self) -> Self:
        return self

    @property
    def catalog(self) -> Self:
        return self

    @property
    def upkeep(self) -> Self:
        return self

    # --- plumbing -------------------------------------------------------------------------------

    async def open(self) -> Self:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self._min,
                max_size=self._max,
                init=_init_connection,
                reset=_no_reset,
            )
        except asyncpg.InvalidCatalogNameError as exc:
            # The first thing someone meets when pointing ATS at a fresh server: say the fix.
            where = redact.url(self.url)
            raise Unavailable(
                f"the PostgreSQL database at {where} does not exist: create it with "
                "`ats db create` (same --database / ATS_DATABASE_URL)"
            ) from exc
        except (OSError, asyncpg.PostgresError) as exc:
            where, why = redact.url(self.url), redact.text(str(exc))  # no password on screen
            raise Unavailable(f"cannot connect to PostgreSQL at {where}: {why}") from exc
        return self

    def listen(self, on_change: Callable[[], None]) -> None:
        """LISTEN on a dedicated connection; other processes' commits call ``on_change``."""
        self._listeners.append(on_change)
        if self._signals is None:
            self._signals = PgSignals(self.url)
            self._signals.start(self._changed)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def announce(self) -> None:
        if self._signals is not None:
            self._signals.announce()

    async def close(self) -> None:
        if self._signals is not None:
            await self._signals.stop()
            self._signals = None
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
            except _UNAVAILABLE as exc:
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
