"""The one place that talks to sqlite3: the connection, named statements, transactions, errors.

Statements are the named blocks of ``queries.sql``, run as written with ``:name`` parameters
bound from keyword arguments (sqlite3 binds them natively). JSON columns come back decoded;
values going into JSON columns are encoded by the caller with :func:`dumps`. Every driver error
becomes an :mod:`ats.errors` one (:func:`translated`); SQLite never asks for a retry (one writer
at a time, ``busy_timeout`` waits for the file lock), so nothing here retries.

Statements run inline on the event loop thread: they take tens of microseconds (WAL,
``synchronous=NORMAL``: no fsync per commit), which is less than handing each one to a worker
thread would cost. So the methods here are plain functions, and a write transaction
(:meth:`Runner.write`) holds an asyncio lock from ``BEGIN IMMEDIATE`` to ``COMMIT`` without ever
suspending inside: it is atomic with respect to other coroutines too. Long work (a feed import,
``VACUUM``, ``dbstat``) runs on a connection of its own in a worker thread instead
(:meth:`Runner.write_apart`, :meth:`Runner.apart`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ats.errors import AtsError, Conflict, InvalidInput, Unavailable
from ats.jsontext import dumps_text, loads
from ats.store import listing, sql

QUERIES = sql.load("ats.store.sqlite")
T = TypeVar("T")
JSON_COLUMNS = (
    "payload", "outputs", "depends_on", "parts", "task", "message", "blockers", "metadata",
    "payload_body",
)  # fmt: skip
BUSY_TIMEOUT = "PRAGMA busy_timeout = 5000"
PRAGMAS = (
    # Before anything else: it only takes on a file with no table yet (and switching to WAL
    # writes the header). Older files keep theirs until `ats db vacuum`; see upkeep.py.
    "PRAGMA auto_vacuum = INCREMENTAL",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    BUSY_TIMEOUT,
)


def dumps(value: Any) -> str | None:
    """A value for a JSON column (None stays NULL)."""
    return None if value is None else dumps_text(value)


def decoded(row: sqlite3.Row | Mapping[str, Any]) -> dict[str, Any]:
    """A row as a dict, its JSON columns decoded."""
    d = dict(row)
    for key in JSON_COLUMNS:
        value = d.get(key)
        if isinstance(value, str):
            d[key] = loads(value)
    return d


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


# What translate() turns into an ats.errors one; anything else (a bug) passes through.
DRIVER_ERRORS = (sqlite3.DatabaseError, OverflowError)


def translate(exc: sqlite3.DatabaseError | OverflowError) -> AtsError:
    """A driver error as :mod:`ats.errors`: what the caller did wrong, or the database is away."""
    if isinstance(exc, sqlite3.IntegrityError):
        if "UNIQUE" in str(exc):
            return Conflict(f"already exists: {exc}")
        return InvalidInput(f"refused by the database: {exc}")
    if isinstance(exc, OverflowError | sqlite3.DataError):
        return InvalidInput(f"value out of range: {exc}")
    # OperationalError and its kin: the file is read-only (SQLITE_READONLY, or SQLITE_IOERR when
    # it turned immutable under an open handle), the disk is full (SQLITE_FULL), locked too long,
    # corrupt. Nothing the caller did wrong; it may work again later.
    return Unavailable(f"database unavailable: {exc}")


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """:func:`translate` around a block."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        raise translate(exc) from exc


class Statements:
    """Named statements on one connection, errors translated, JSON columns decoded.

    Each method catches driver errors itself (a ``try`` costs nothing until something raises):
    these run for every statement of every request."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def all(self, query: str, /, **params: Any) -> list[dict[str, Any]]:
        try:
            return [decoded(r) for r in self.db.execute(QUERIES[query], params)]
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc

    def one(self, query: str, /, **params: Any) -> dict[str, Any] | None:
        """The first row, or None."""
        rows = self.all(query, **params)
        return rows[0] if rows else None

    def value(self, query: str, /, **params: Any) -> Any:
        """The first column of the first row (as stored, not decoded), or None."""
        try:
            row = self.db.execute(QUERIES[query], params).fetchone()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        return None if row is None else row[0]

    def execute(self, query: str, /, **params: Any) -> int:
        """Run to completion; how many rows it changed (for INSERT, UPDATE, DELETE)."""
        try:
            cursor = self.db.execute(QUERIES[query], params)
            cursor.fetchall()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        return cursor.rowcount

    def first_of(self, *queries: str) -> list[dict[str, Any]]:
        """The rows of the first of ``queries`` that SQLite can run: one it refuses as it stands
        (``OperationalError``: a table or module missing from this build) gives way to the next."""
        *before, last = queries
        with translated():
            for query in before:
                try:
                    return [decoded(r) for r in self.db.execute(QUERIES[query])]
                except sqlite3.OperationalError:
                    continue
            return [decoded(r) for r in self.db.execute(QUERIES[last])]

    def listing(self, st: listing.Statement) -> list[dict[str, Any]]:
        """The rows of a ``GET /tasks`` statement built by :mod:`ats.store.listing`."""
        try:
            return [decoded(r) for r in self.db.execute(st.text, st.params)]
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc


class Runner:
    """The store's connection: reads on it at once, writes one transaction at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._main: Statements | None = None
        self._lock: asyncio.Lock | None = None

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise Unavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        db.row_factory = sqlite3.Row
        # Case folding beyond ASCII for searches too short for the trigram index (queries.sql).
        db.create_function("ats_lower", 1, _lower, deterministic=True)
        for pragma in PRAGMAS:
            db.execute(pragma)
        self._main = Statements(db)

    @property
    def is_open(self) -> bool:
        return self._main is not None

    def close(self) -> None:
        if self._main is not None:
            self._main.db.close()
            self._main = None

    @property
    def statements(self) -> Statements:
        """The store's connection: reads, and the statements of a :meth:`write`."""
        if self._main is None:
            raise Unavailable("the SQLite store is not open")
        return self._main

    def all(self, query: str, /, **params: Any) -> list[dict[str, Any]]:
        return self.statements.all(query, **params)

    def one(self, query: str, /, **params: Any) -> dict[str, Any] | None:
        return self.statements.one(query, **params)

    def value(self, query: str, /, **params: Any) -> Any:
        return self.statements.value(query, **params)

    def execute(self, query: str, /, **params: Any) -> int:
        return self.statements.execute(query, **params)

    def listing(self, st: listing.Statement) -> list[dict[str, Any]]:
        return self.statements.listing(st)

    @property
    def changes(self) -> int:
        """Rows changed through this connection since it opened (``total_changes``)."""
        return self.statements.db.total_changes

    @property
    def lock(self) -> asyncio.Lock:
        """Held by every write: the transaction on this connection, or one apart."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Statements]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT`` on the store's connection, under :attr:`lock`;
        rolled back if the body raises."""
        async with self.lock:
            with translated():
                tx = self.statements
                # a transaction an earlier failure left open would refuse BEGIN
                self._abandon(tx.db)
                tx.db.execute("BEGIN IMMEDIATE")
                try:
                    yield tx
                    tx.db.execute("COMMIT")
                except BaseException:
                    self._abandon(tx.db)
                    raise

    @staticmethod
    def _abandon(db: sqlite3.Connection) -> None:
        """Roll back what a failed transaction left, if anything.

        After SQLITE_FULL or SQLITE_IOERR SQLite may have rolled back already (then ROLLBACK
        itself fails) or not (then the connection stays inside the transaction, and every later
        BEGIN fails until it ends); a COMMIT refused with SQLITE_BUSY leaves it open too. Either
        way the original error is the one to report.
        """
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")

    async def exclusive(self, work: Callable[[Statements], T]) -> T:
        """``work`` on the store's connection under :attr:`lock`, outside any transaction (not
        in the middle of a write, nor of a write apart on another connection)."""
        async with self.lock:
            return work(self.statements)

    async def write_apart(self, work: Callable[[Statements], T]) -> T:
        """A long write transaction on a connection of its own, in a worker thread.

        The event loop keeps serving meanwhile. The write lock is held all along, so this
        process's own connection never waits on SQLite's file lock (its statements run on the
        loop, which would block); readers go on from the last commit (WAL), so none of them sees
        the write half done.
        """
        async with self.lock:
            return await asyncio.to_thread(self._run_apart, work)

    def _run_apart(self, work: Callable[[Statements], T]) -> T:
        with translated():
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                db.row_factory = sqlite3.Row
                db.execute(BUSY_TIMEOUT)
                db.execute("PRAGMA foreign_keys = ON")
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(Statements(db))
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):  # never hide the real error
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
            finally:
                db.close()

    async def apart(self, work: Callable[[Statements], T], *, exclusive: bool) -> T:
        """``work`` on a connection of its own in a worker thread, outside any transaction;
        ``exclusive``: under :attr:`lock` (writers wait for it, readers do not)."""
        if not exclusive:
            return await asyncio.to_thread(self._run_alone, work)
        async with self.lock:
            return await asyncio.to_thread(self._run_alone, work)

    def _run_alone(self, work: Callable[[Statements], T]) -> T:
        with translated():
            db = sqlite3.connect(self.path, isolation_level=None)
            try:
                db.row_factory = sqlite3.Row
                db.execute(BUSY_TIMEOUT)
                return work(Statements(db))
            finally:
                db.close()

    def script(self, text: str) -> None:
        """Run a script of several statements (a migration), errors translated."""
        with translated():
            self.statements.db.executescript(text)
