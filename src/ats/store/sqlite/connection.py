"""SQLite plumbing: the connection, the write transaction, error translation, migrations."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self, TypeVar

from ats.errors import Conflict, InvalidInput, Unavailable
from ats.jsontext import dumps_text, loads
from ats.models import Actor, EventType, Message, Millis, Task
from ats.store import sql
from ats.store.base import (
    task_from_row,
    task_to_row,
)
from ats.store.transitions import (
    Locked,
)

Q = sql.load("ats.store.sqlite")
T = TypeVar("T")
_JSON_COLUMNS = (
    "payload", "outputs", "depends_on", "parts", "task", "message", "blockers", "metadata",
)  # fmt: skip


def _dumps(value: Any) -> str | None:
    return None if value is None else dumps_text(value)


def _decoded(row: sqlite3.Row | Mapping[str, Any]) -> dict[str, Any]:
    d = dict(row)
    for key in _JSON_COLUMNS:
        value = d.get(key)
        if isinstance(value, str):
            d[key] = loads(value)
    return d


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise Conflict(f"already exists: {exc}") from exc
        raise InvalidInput(f"refused by the database: {exc}") from exc
    except (OverflowError, sqlite3.DataError) as exc:
        raise InvalidInput(f"value out of range: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        # OperationalError and its kin: the file is read-only (SQLITE_READONLY, or SQLITE_IOERR
        # when it turned immutable under an open handle), the disk is full (SQLITE_FULL), locked
        # too long, corrupt. Nothing the caller did wrong; it may work again later.
        raise Unavailable(f"database unavailable: {exc}") from exc


class SqliteTx:
    """The :class:`~ats.store.transitions.Tx` of one SQLite write transaction."""

    def __init__(self, store: SqliteConnection) -> None:
        self.store = store
        self.db = store.db

    def _locked(self, row: sqlite3.Row | None) -> Locked | None:
        if row is None:
            return None
        d = _decoded(row)
        task = task_from_row(d, self.store.project_path(d["project_id"]))
        blockers = [(int(i), str(s)) for i, s in d["blockers"] or []]
        return Locked(task, d["project_id"], d["version"], blockers)

    async def lock_task(self, task_id: int) -> Locked | None:
        return self._locked(self.db.execute(Q["lock_task"], (task_id,)).fetchone())

    async def lock_expired(self, task_id: int, now: Millis) -> Locked | None:
        return self._locked(self.db.execute(Q["lock_expired"], (task_id, now)).fetchone())

    async def write_task(
        self,
        read: Locked,
        task: Task,
        events: tuple[EventType, ...],
        actor: Actor,
        now: Millis,
    ) -> int | None:
        r = task_to_row(task, read.project_id)
        written = self.db.execute(
            Q["write_task"],
            (
                task.id, r["title"], r["description"], r["status"], r["priority"], r["type"],
                r["channel"], _dumps(r["payload"]), _dumps(r["outputs"]), r["assignee_type"],
                r["assignee_id"], r["assignee_name"], r["lease_expires"], r["lease_token"],
                r["attempts"], r["reason"], r["available_at"], r["updated_at"], r["completed_at"],
                _dumps(r["depends_on"]), read.version,
            ),
        ).fetchone()  # fmt: skip
        if written is None:
            return None
        for kind in events:
            self.event(kind, r, actor, now)
        return int(written[0])

    def event(
        self,
        kind: EventType,
        row: dict[str, Any],
        actor: Actor,
        now: Millis,
        message: Message | None = None,
    ) -> None:
        self.db.execute(
            Q["insert_event"],
            (
                kind.value, row["id"], row["project_id"], row["channel"], row["type"],
                actor.type.value, actor.id, actor.name, now, _dumps(row),
                _dumps(message.to_json()) if message else None,
            ),
        )  # fmt: skip

    async def pending_dependents(self, task_id: int) -> list[int]:
        return [r["id"] for r in self.db.execute(Q["pending_dependents"], (task_id,))]


class SqliteConnection:
    """Connection plumbing, migrations and the project-path cache."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._paths: dict[int, str] = {}

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

    def open(self) -> Self:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise Unavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        db.row_factory = sqlite3.Row
        # Case folding beyond ASCII for searches too short for the trigram index (queries.sql).
        db.create_function("ats_lower", 1, _lower, deterministic=True)
        for pragma in (
            # Before anything else: it only takes on a file with no table yet (and switching to
            # WAL writes the header). Older files keep theirs until `ats db vacuum`; see upkeep.py.
            "auto_vacuum = INCREMENTAL",
            "journal_mode = WAL",
            "synchronous = NORMAL",
            "foreign_keys = ON",
            "busy_timeout = 5000",
        ):
            db.execute(f"PRAGMA {pragma}")
        self._db = db
        return self

    def listen(self, on_change: Callable[[], None]) -> None:
        """One server process owns a SQLite file (others sharing it are caught by polling)."""

    def announce(self) -> None:
        """Nobody else to tell: see :meth:`listen`."""

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise Unavailable("the SQLite store is not open")
        return self._db

    @contextlib.asynccontextmanager
    async def _write(self) -> Any:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            with _translated():
                self._abandon()  # a transaction an earlier failure left open would refuse BEGIN
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield SqliteTx(self)
                    self.db.execute("COMMIT")
                except BaseException:
                    self._abandon()
                    raise

    def _abandon(self) -> None:
        """Roll back what a failed transaction left, if anything.

        After SQLITE_FULL or SQLITE_IOERR SQLite may have rolled back already (then ROLLBACK
        itself fails) or not (then the connection stays inside the transaction, and every later
        BEGIN fails until it ends); a COMMIT refused with SQLITE_BUSY leaves it open too. Either
        way the original error is the one to report.
        """
        if self.db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")

    async def _write_apart(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A long write transaction on a connection of its own, in a worker thread.

        The event loop keeps serving meanwhile. The write lock is held all along, so this
        process's own connection never waits on SQLite's file lock (its statements run on the
        loop, which would block); readers go on from the last commit (WAL), so none of them sees
        the write half done.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await asyncio.to_thread(self._run_apart, work)

    def _run_apart(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with _translated():
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                db.execute("PRAGMA busy_timeout = 5000")
                db.execute("PRAGMA foreign_keys = ON")
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):  # never hide the real error
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
            finally:
                db.close()

    def _all(self, name: str, *args: Any) -> list[dict[str, Any]]:
        with _translated():
            return [_decoded(r) for r in self.db.execute(Q[name], args)]

    def _one(self, name: str, *args: Any) -> dict[str, Any] | None:
        rows = self._all(name, *args)
        return rows[0] if rows else None

    def project_path(self, project_id: int) -> str:
        path = self._paths.get(project_id)
        if path is None:
            self._paths = {r["id"]: r["path"] for r in self._all("project_paths")}
            path = self._paths.get(project_id, "?/?")
        return path

    def _task(self, row: dict[str, Any], messages: list[Message] | None = None) -> Task:
        return task_from_row(row, self.project_path(row["project_id"]), messages)

    async def ping(self) -> None:
        self._all("ping")

    async def migrate(self) -> list[str]:
        db = self.db
        applied: list[str] = []
        with _translated():
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            done = {r[0] for r in db.execute("SELECT version FROM schema_migrations")}
            for version, name, text in sql.migrations("ats.store.sqlite"):
                if version in done:
                    continue
                # executescript commits on its own; wrap the file and the bookkeeping together.
                db.executescript(
                    f"BEGIN;\n{text}\nINSERT INTO schema_migrations (version, name) "
                    f"VALUES ({version}, '{name}');\nCOMMIT;"
                )
                applied.append(f"{version:04d}_{name}")
        return applied
