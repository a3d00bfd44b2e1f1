"""SQLite store: one connection in WAL mode, used from the event loop thread.

Statements here take tens of microseconds (WAL, ``synchronous=NORMAL``: no fsync per commit), which
is less than handing each one to a worker thread would cost, so they run inline. A write holds an
asyncio lock from ``BEGIN IMMEDIATE`` to ``COMMIT``; no ``await`` inside it ever suspends, so the
transaction is also atomic with respect to other coroutines. A crash of the process loses nothing
that was committed (WAL survives it; only an OS crash can drop the last commits).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

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
    expire,
    fail_if_blocked,
    locate,
    not_found,
    replace_dependencies,
    run,
)

Q = sql.load("ats.store.sqlite")
_JSON_COLUMNS = ("payload", "outputs", "depends_on", "parts", "task", "message", "blockers")


def _dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _decoded(row: sqlite3.Row | Mapping[str, Any]) -> dict[str, Any]:
    d = dict(row)
    for key in _JSON_COLUMNS:
        value = d.get(key)
        if isinstance(value, str):
            d[key] = orjson.loads(value)
    return d


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise Conflict(f"already exists: {exc}") from exc
        raise InvalidInput(f"refused by the database: {exc}") from exc
    except OverflowError as exc:
        raise InvalidInput(f"value out of range: {exc}") from exc
    except sqlite3.OperationalError as exc:
        raise Unavailable(f"database unavailable: {exc}") from exc


class SqliteTx:
    """The :class:`~ats.store.transitions.Tx` of one SQLite write transaction."""

    def __init__(self, store: SqliteStore) -> None:
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


class SqliteStore:
    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._paths: dict[int, str] = {}

    # --- plumbing -------------------------------------------------------------------------------

    def open(self) -> SqliteStore:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise Unavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        db.row_factory = sqlite3.Row
        for pragma in (
            "journal_mode = WAL",
            "synchronous = NORMAL",
            "foreign_keys = ON",
            "busy_timeout = 5000",
        ):
            db.execute(f"PRAGMA {pragma}")
        self._db = db
        return self

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
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield SqliteTx(self)
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")

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

    async def list_tasks(self, q: TaskQuery) -> tuple[list[Task], int]:
        args = filter_args(q)
        if args[1] is not None:
            args = (args[0], _dumps(args[1]), *args[2:])
        text = Q["list_tasks"].replace("{order}", order_clause(q))
        with _translated():
            rows = [_decoded(r) for r in self.db.execute(text, (*args, q.limit, q.offset))]
            count = self.db.execute(Q["count_tasks"], args).fetchone()[0]
        return [self._task(r) for r in rows], int(count)

    async def transition(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        async with self._write() as tx:
            if isinstance(action, Complete):
                held = self.db.execute(
                    Q["complete_held"],
                    (
                        task_id, _dumps(outputs_list(action.outputs)), actor.type.value,
                        actor.id, action.lease_token, now, actor.name, project_id,
                    ),
                ).fetchone()  # fmt: skip
                if held is not None:
                    row = _decoded(held)
                    tx.event(EventType.COMPLETED, row, actor, now)
                    return self._task(row)
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
                    Q["claim_next" if channel is None else "claim_next_in_channel"],
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

    # --- stats and events -----------------------------------------------------------------------

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        by_status = {r["status"]: r["n"] for r in self._all("stats_by_status", project_id)}
        by_channel = {r["channel"]: r["n"] for r in self._all("stats_by_channel", project_id)}
        times = self._one("stats_times", project_id, now - 86_400_000, now - 7 * 86_400_000)
        return stats_document(by_status, by_channel, times or {})

    async def events(self, q: EventQuery, now: Millis) -> list[Event]:
        # SQLite commits one writer at a time, so ids are already in commit order; the horizon
        # check is kept for symmetry with PostgreSQL and costs one index scan.
        scan = self._all("event_ids_after", q.since, max(q.limit, 1000))
        horizon = contiguous_horizon([(r["id"], r["created_at"]) for r in scan], q.since, now)
        rows = self._all(
            "events_after", q.since, horizon, q.project_id, q.channel, q.task_type,
            _dumps(list(q.types)) if q.types else None, q.task_id, q.limit,
        )  # fmt: skip
        events = []
        for row in rows:
            snapshot = row["task"]
            task = task_from_row(snapshot, self.project_path(snapshot["project_id"]))
            message = Message.from_json(row["message"]) if row["message"] else None
            events.append(event_from_row(row, task, message))
        return events

    # --- orgs and projects ----------------------------------------------------------------------

    async def list_orgs(self) -> list[Org]:
        return [org_from_row(r) for r in self._all("list_orgs")]

    async def get_org(self, slug: str) -> Org:
        row = self._one("get_org", slug)
        if row is None:
            raise NotFound(f"Organization {slug!r} not found")
        return org_from_row(row)

    async def create_org(self, slug: str, name: str, now: Millis) -> Org:
        async with self._write():
            row = self._one("create_org", slug, name, now)
        assert row is not None
        return org_from_row(row)

    async def update_org(
        self, slug: str, new_slug: str | None, name: str | None, now: Millis
    ) -> Org:
        org = await self.get_org(slug)
        async with self._write():
            row = self._one("update_org", slug, new_slug or org.slug, name or org.name, now)
        self._paths.clear()
        assert row is not None
        return org_from_row(row)

    async def list_projects(self, org: str, counts: bool) -> list[Project]:
        await self.get_org(org)
        return [project_from_row(r, counts) for r in self._all("list_projects", org)]

    async def get_project(self, org: str, slug: str) -> Project:
        row = self._one("get_project", org, slug)
        if row is None:
            raise NotFound(f"Project {org}/{slug} not found")
        return project_from_row(row, False)

    async def create_project(
        self, org: str, slug: str, name: str, description: str | None, now: Millis
    ) -> Project:
        await self.get_org(org)
        async with self._write():
            row = self._one("create_project", org, slug, name, description, now)
        assert row is not None
        return project_from_row(row, False)

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
        async with self._write():
            row = self._one(
                "update_project", org, slug, new_slug or p.slug, name or p.name,
                description if description is not None else p.description, now,
            )  # fmt: skip
        self._paths.clear()
        assert row is not None
        return project_from_row(row, False)
