"""The PostgreSQL query runner: the one place that talks to asyncpg.

It owns the pool, runs the statements of ``queries.sql`` by name with named parameters (numbered
for asyncpg by :func:`ats.store.sql.bind`), and turns driver errors into :mod:`ats.errors`.
Deadlocks and serialization failures (two cascades locking rows in opposite orders) are retried
here, and only here: a statement alone when it runs in its own implicit transaction, the whole
body when it runs in :meth:`Runner.transaction` — a retry must re-run the transaction, not one
statement inside it.

JSON and JSONB columns are decoded (and parameters encoded) by the codecs set on every pooled
connection, so rows come back with ``dict`` / ``list`` values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeAlias, TypeVar

import asyncpg

from ats import redact
from ats.errors import Conflict, InvalidInput, Unavailable
from ats.jsontext import dumps_text, loads
from ats.store import sql
from ats.store.listing import Statement

QUERIES = sql.load("ats.store.postgres")
Record: TypeAlias = asyncpg.Record
Conn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
T = TypeVar("T")
ROUNDS = 5  # tries of a statement or transaction the database refuses for a deadlock
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


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=dumps_text, decoder=loads, schema="pg_catalog")


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's per-release reset query (a round trip on every request).

    Nothing here leaves session state behind: transactions are closed by their context managers,
    the migration lock is released explicitly, and nothing LISTENs on pooled connections.
    """


class Executor(Protocol):
    """Runs statements of ``queries.sql`` by name: the :class:`Runner` (each statement its own
    transaction, retried and translated) or a :class:`Handle` (inside a transaction)."""

    async def all(self, query: str, /, **params: Any) -> list[Record]: ...

    async def one(self, query: str, /, **params: Any) -> Record | None: ...

    async def value(self, query: str, /, **params: Any) -> Any: ...

    async def execute(self, query: str, /, **params: Any) -> str: ...


class Handle:
    """Statements by name on one connection (in a transaction) or on the pool, as they come:
    errors are left to the :class:`Runner` method around the body."""

    def __init__(self, on: Conn | asyncpg.Pool) -> None:
        self._on = on

    async def all(self, query: str, /, **params: Any) -> list[Record]:
        return await self._on.fetch(*_bound(QUERIES[query], params))

    async def one(self, query: str, /, **params: Any) -> Record | None:
        return await self._on.fetchrow(*_bound(QUERIES[query], params))

    async def value(self, query: str, /, **params: Any) -> Any:
        return await self._on.fetchval(*_bound(QUERIES[query], params))

    async def execute(self, query: str, /, **params: Any) -> str:
        """The command status (``DELETE 3``)."""
        return await self._on.execute(*_bound(QUERIES[query], params))

    async def rows(self, st: Statement) -> list[Record]:
        """A statement built by :mod:`ats.store.listing`."""
        return await self._on.fetch(*_bound(st.text, st.params))

    async def script(self, text: str) -> str:
        """Text that is no statement of ``queries.sql`` and takes no parameters: a migration
        (several statements), a VACUUM (which takes no parameters)."""
        return await self._on.execute(text)


class Session(Handle):
    """One connection outside any transaction, for what cannot run in one (VACUUM, session
    advisory locks, migrations that open their own transactions)."""

    def __init__(self, conn: Conn) -> None:
        super().__init__(conn)
        self._conn = conn

    def transaction(self) -> asyncpg.transaction.Transaction:
        return self._conn.transaction()


class Runner:
    """The pool, and the statements run on it with retries and error translation."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20) -> None:
        self.url = url
        self._min, self._max = min_size, max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
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

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise Unavailable("the PostgreSQL store is not open")
        return self._pool

    # --- one statement, its own implicit transaction --------------------------------------------

    async def all(self, query: str, /, **params: Any) -> list[Record]:
        return await self._attempt(lambda: Handle(self.pool).all(query, **params))

    async def one(self, query: str, /, **params: Any) -> Record | None:
        return await self._attempt(lambda: Handle(self.pool).one(query, **params))

    async def value(self, query: str, /, **params: Any) -> Any:
        return await self._attempt(lambda: Handle(self.pool).value(query, **params))

    async def execute(self, query: str, /, **params: Any) -> str:
        return await self._attempt(lambda: Handle(self.pool).execute(query, **params))

    async def rows(self, st: Statement) -> list[Record]:
        return await self._attempt(lambda: Handle(self.pool).rows(st))

    # --- several statements ---------------------------------------------------------------------

    async def transaction(self, body: Callable[[Handle], Awaitable[T]]) -> T:
        """Run ``body`` in one transaction on one connection; all of it again on a deadlock."""

        async def once() -> T:
            async with self.pool.acquire() as conn, conn.transaction():
                return await body(Handle(conn))

        return await self._attempt(once)

    async def session(self, body: Callable[[Session], Awaitable[T]]) -> T:
        """Run ``body`` on one connection outside a transaction; not retried (it may have
        committed part of its work), errors translated."""

        async def once() -> T:
            async with self.pool.acquire() as conn:
                return await body(Session(conn))

        return await self._attempt(once, rounds=1)

    async def _attempt(self, body: Callable[[], Awaitable[T]], rounds: int = ROUNDS) -> T:
        """Run ``body``, retrying deadlocks between cascades; translate driver errors."""
        for round_ in range(rounds):
            try:
                return await body()
            except _RETRYABLE:
                if round_ == rounds - 1:
                    raise Conflict("the database kept refusing this change; try again") from None
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"already exists: {exc.detail or exc}") from exc
            except (asyncpg.DataError, asyncpg.exceptions.NumericValueOutOfRangeError) as exc:
                raise InvalidInput(f"value out of range: {exc}") from exc
            except _UNAVAILABLE as exc:
                raise Unavailable(f"database unavailable: {exc}") from exc
        raise AssertionError("unreachable")


def _bound(text: str, params: dict[str, Any]) -> tuple[Any, ...]:
    """``text`` numbered for asyncpg, followed by its values in number order."""
    numbered, values = sql.bind(text, params)
    return (numbered, *values)
