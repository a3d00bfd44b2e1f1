"""SQLite tasks: create, read, list and count, every status change, claim-next, messages.

Status changes take the general path (:func:`ats.store.transitions.run` inside the write
transaction, :meth:`SqliteTasks.transition_general`) unless :mod:`ats.store.sqlite.fast` answers
first (complete by the lease holder, one statement).
"""

from __future__ import annotations

from typing import Any

from ats.errors import AtsError, InvalidInput
from ats.lifecycle import Action
from ats.models import Actor, EventType, Message, Millis, Task
from ats.store import listing
from ats.store.base import NewTask, TaskQuery, message_from_row, task_from_row, task_to_row
from ats.store.counts import count_filter, recent_hours, stats_from_counts
from ats.store.sqlite import fast
from ats.store.sqlite.catalog import ProjectPaths
from ats.store.sqlite.runner import QUERIES, Runner, Statements, dumps
from ats.store.sqlite.tx import SqliteTx
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
    statuses=dumps,
    # One FTS5 phrase (a `"` inside is doubled): matches it as a substring, `%` and `_` included.
    search=lambda text: '"' + text.replace('"', '""') + '"',
    count_search_from="sqlite_count_search_from",
    count_search_alone="sqlite_count_search_alone",
    walk={
        "list_where_search": "list_where_search_scan",
        "list_where_priority": "sqlite_walk_priority",
        "list_where_min_priority": "sqlite_walk_min_priority",
        "list_where_max_priority": "sqlite_walk_max_priority",
    },
)
# A search or priority filter with at least this many matches in its index is common enough to
# walk the requested order and test each row (a page is near) rather than read and sort every
# match. Measured at 1M tasks: a word in 1 title of 10, 121 ms by the index, 0.4 ms walking; a
# priority range holding a fifth of the tasks, 128 ms / 0.6 ms. A probe costs 0.1-0.2 ms.
PROBE = 1000
PRIORITY_FILTERS = ("list_where_priority", "list_where_min_priority", "list_where_max_priority")


class SqliteTasks:
    """The :class:`~ats.store.ports.Tasks` port on SQLite."""

    def __init__(self, runner: Runner, paths: ProjectPaths) -> None:
        self.runner = runner
        self.paths = paths

    def _task(self, row: dict[str, Any], messages: list[Message] | None = None) -> Task:
        return task_from_row(row, self.paths.get(row["project_id"]), messages)

    def _tx(self, statements: Statements) -> SqliteTx:
        return SqliteTx(statements, self.paths)

    async def create_tasks(
        self, project_id: int, specs: list[NewTask], actor: Actor, now: Millis
    ) -> list[Task]:
        created: list[Task] = []
        async with self.runner.write() as statements:
            tx = self._tx(statements)
            for s in specs:
                deps = _check_deps(statements, s.depends_on)
                row = statements.one(
                    "create_task", project_id=project_id, title=s.title,
                    description=s.description, priority=s.priority, type=s.type,
                    channel=s.channel, payload=dumps(s.payload), actor_type=actor.type.value,
                    actor_id=actor.id, actor_name=actor.name, max_attempts=s.max_attempts,
                    depends_on=dumps(list(s.depends_on)), now=now,
                )  # fmt: skip
                assert row is not None
                tx.event(EventType.CREATED, row, actor, now)
                task = self._task(row)
                if deps:
                    statements.execute("insert_deps", task_id=task.id, depends_on=dumps(list(deps)))
                    read = Locked(task, project_id, row["version"], [])
                    task = await fail_if_blocked(tx, read, deps, now)
                created.append(task)
        return created

    async def get_task(
        self, task_id: int, project_id: int | None, with_messages: bool = False
    ) -> Task:
        row = self.runner.one("get_task", task_id=task_id)
        if row is None or (project_id is not None and row["project_id"] != project_id):
            raise not_found(task_id)
        return self._task(row, self._messages(task_id) if with_messages else None)

    async def list_tasks(self, q: TaskQuery) -> list[Task]:
        st = listing.list_statement(q, DIALECT, walk=self._common_filters(q))
        return [self._task(r) for r in self.runner.listing(st)]

    def _common_filters(self, q: TaskQuery) -> list[str]:
        """The filters of ``q`` with :data:`PROBE` matches or more: walked, not looked up."""
        walk: list[str] = []
        if q.search is not None and listing.indexed_search(q):
            phrase = DIALECT.search(q.search)
            if self.runner.value("sqlite_search_probe", search=phrase, probe=PROBE) >= PROBE:
                walk.append("list_where_search")
        if q.priority is not None or q.min_priority is not None or q.max_priority is not None:
            low = max(v for v in (q.priority, q.min_priority, -(2**63)) if v is not None)
            high = min(v for v in (q.priority, q.max_priority, 2**63 - 1) if v is not None)
            if self.runner.value("sqlite_priority_probe", low=low, high=high, probe=PROBE) >= PROBE:
                walk += PRIORITY_FILTERS
        return walk

    async def count_tasks(self, q: TaskQuery) -> tuple[int, bool]:
        st = listing.count_statement(q, DIALECT)
        return listing.counted(st, int(self.runner.listing(st)[0]["n"]))

    async def transition(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        async with self.runner.write() as statements:
            tx = self._tx(statements)
            done = fast.transition(tx, task_id, project_id, action, actor, now)
            if done is not None:
                return done
            return await run(tx, task_id, project_id, action, actor, now)

    async def transition_general(
        self, task_id: int, project_id: int | None, action: Action, actor: Actor, now: Millis
    ) -> Task:
        """:meth:`transition` by the general path alone, the one that defines behaviour."""
        async with self.runner.write() as statements:
            return await run(self._tx(statements), task_id, project_id, action, actor, now)

    async def transition_many(
        self, project_id: int | None, items: list[tuple[int, Action]], actor: Actor, now: Millis
    ) -> list[Task | AtsError]:
        # One write transaction; a refused item raises before it writes anything.
        results: list[Task | AtsError] = []
        async with self.runner.write() as statements:
            tx = self._tx(statements)
            for task_id, action in items:
                try:
                    results.append(await run(tx, task_id, project_id, action, actor, now))
                except AtsError as exc:
                    results.append(exc)
        return results

    async def set_dependencies(
        self, task_id: int, project_id: int | None, depends_on: list[int], actor: Actor, now: Millis
    ) -> Task:
        async with self.runner.write() as statements:
            tx = self._tx(statements)
            locked = await locate(tx, task_id, project_id)
            deps = _check_deps(statements, depends_on)
            closure = {r["id"] for r in statements.all("dependency_closure", ids=dumps(list(deps)))}
            statements.execute("delete_deps", task_id=task_id)
            if deps:
                statements.execute("insert_deps", task_id=task_id, depends_on=dumps(list(deps)))
            return await replace_dependencies(tx, locked, deps, closure, actor, now)

    async def delete_task(
        self, task_id: int, project_id: int | None, actor: Actor, now: Millis
    ) -> None:
        async with self.runner.write() as statements:
            tx = self._tx(statements)
            locked = await locate(tx, task_id, project_id)
            statements.execute("delete_task", task_id=task_id)
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
        async with self.runner.write() as statements:
            rows = statements.all(
                "claim_next_any" if channel is None else "claim_next_in_channel",
                now=now, channel=channel, task_type=task_type, project_id=project_id,
                limit=limit, actor_type=actor.type.value, actor_id=actor.id,
                actor_name=actor.name, lease_ms=lease_ms,
            )  # fmt: skip
            # RETURNING order is unspecified in SQLite: hand out best first, as PostgreSQL does.
            rows.sort(key=lambda r: (-r["priority"], r["id"]))
            tx = self._tx(statements)
            for row in rows:
                tx.event(EventType.CLAIMED, row, actor, now)
        return [self._task(r) for r in rows]

    async def expire_leases(self, now: Millis, limit: int) -> int:
        expired = 0
        for cand in self.runner.all("expired_candidates", now=now, limit=limit):
            async with self.runner.write() as statements:
                tx = self._tx(statements)
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
        async with self.runner.write() as statements:
            tx = self._tx(statements)
            await locate(tx, task_id, project_id)
            row = statements.one(
                "insert_message", task_id=task_id, actor_type=actor.type.value,
                actor_id=actor.id, actor_name=actor.name, parts=dumps(parts), now=now,
            )  # fmt: skip
            assert row is not None
            message = message_from_row(row, row["parts"])
            touched = statements.one("touch_task", task_id=task_id, now=now)
            assert touched is not None
            tx.event(EventType.MESSAGE, touched, actor, now, message)
            return message

    def _messages(self, task_id: int) -> list[Message]:
        rows = self.runner.all("list_messages", task_id=task_id)
        return [message_from_row(r, r["parts"]) for r in rows]

    async def list_messages(self, task_id: int, project_id: int | None) -> list[Message]:
        task = await self.get_task(task_id, project_id)
        return self._messages(task.id)

    # --- counts ---------------------------------------------------------------------------------

    async def stats(self, project_id: int | None, now: Millis) -> dict[str, Any]:
        rows = self.runner.all("stats_counts", project_id=project_id)
        hour_24h, hour_7d = recent_hours(now)
        recent = self.runner.one(
            "stats_recent", project_id=project_id, hour_24h=hour_24h, hour_7d=hour_7d
        )
        return stats_from_counts(rows, recent)

    async def exact_count(self, q: TaskQuery) -> int | None:
        args = count_filter(q)
        if args is None:
            return None
        project_id, statuses, channel, type_ = args
        n = self.runner.value(
            "count_tasks_exact", project_id=project_id,
            statuses=dumps(statuses) if statuses else None, channel=channel, type=type_,
        )  # fmt: skip
        return int(n) if n is not None else 0


def _check_deps(statements: Statements, deps: tuple[int, ...] | list[int]) -> dict[int, str]:
    """The status of each dependency, by id; InvalidInput naming those that do not exist."""
    if not deps:
        return {}
    rows = statements.all("deps_status", ids=dumps(list(deps)))
    found = {r["id"]: r["status"] for r in rows}
    missing = [d for d in deps if d not in found]
    if missing:
        raise InvalidInput(
            f"depends_on: task {', '.join(f'#{m}' for m in missing)} does not exist",
            field="depends_on",
        )
    return found
