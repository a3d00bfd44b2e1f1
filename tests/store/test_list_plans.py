"""Every documented filter and sort of ``GET /tasks`` is served by an index, on both backends.

50,000 generated tasks (enough that a full scan would lose), statistics gathered, then the page
statement :mod:`ats.store.listing` builds is EXPLAINed: never a full scan of ``tasks``, and where
an index gives the order, no sort of the matches either (that is what keeps page 1 flat at 1M).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import asyncpg
import pytest

from ats.models import Millis, Status
from ats.store import TaskQuery, listing, sql
from ats.store.base import Keyset
from ats.store.postgres.tasks import DIALECT as PG
from ats.store.sqlite import tasks as sqlite_tasks
from ats.store.sqlite.tasks import DIALECT as SQLITE

ROWS = 50_000
T0 = 1_700_000_000_000

# (query, whether the index must also give the order: no sort of the matches)
CASES: list[tuple[str, TaskQuery, bool]] = [
    ("default", TaskQuery(), True),
    ("status", TaskQuery(statuses=(Status.PENDING,)), True),
    ("statuses", TaskQuery(statuses=(Status.PENDING, Status.IN_PROGRESS)), False),
    ("channel", TaskQuery(channel="c7"), True),
    ("type", TaskQuery(type="t3"), True),
    ("assignee", TaskQuery(assignee_id="a11"), True),
    ("project", TaskQuery(project_id=1), True),
    ("priority", TaskQuery(priority=9), False),
    ("min_priority", TaskQuery(min_priority=10), False),
    ("max_priority", TaskQuery(max_priority=1), False),
    ("priority range", TaskQuery(min_priority=9, max_priority=10), False),
    ("created_after", TaskQuery(created_after=Millis(T0 + ROWS * 1000 - 5000)), True),
    ("updated_after", TaskQuery(updated_after=Millis(T0 + ROWS * 1000 - 5000)), False),
    ("search", TaskQuery(search="needle-42"), False),
    ("search, common: walked in order", TaskQuery(search="task"), True),
    ("priority, common: walked in order", TaskQuery(priority=3), True),
    ("priority range, common: walked in order", TaskQuery(min_priority=2, max_priority=4), True),
    ("status + keyset", TaskQuery(statuses=(Status.PENDING,), after=Keyset(T0 + 9000, 9)), True),
]
for key in ("created_at", "updated_at", "priority", "title", "id", "status"):
    for descending in (True, False):
        CASES.append(
            (f"sort {key} {descending}", TaskQuery(sort_by=key, descending=descending), True)
        )
        value: int | str = "task 00042" if key == "title" else "pending" if key == "status" else 5
        CASES.append(
            (f"keyset {key} {descending}",
             TaskQuery(sort_by=key, descending=descending, after=Keyset(value, 42)), True)
        )  # fmt: skip

# The filters the SQLite store walks (its probes find them common in this table); the planner then
# walks the requested order instead of reading and sorting every match.
SQLITE_WALKS = {
    "search, common: walked in order": ["list_where_search"],
    "priority, common: walked in order": list(sqlite_tasks.PRIORITY_FILTERS),
    "priority range, common: walked in order": list(sqlite_tasks.PRIORITY_FILTERS),
}

# status (1/3 terminal), priority 1..10, 20 channels, 10 types, 50 assignees, one needle a row
_COLUMNS = """
    (project_id, title, description, status, priority, type, channel, payload, source_type,
     source_id, source_name, assignee_type, assignee_id, assignee_name, depends_on, available_at,
     created_at, updated_at)
"""
_VALUES = """
    1, 'task ' || substr('00000' || {n}, -5), 'needle-' || {n},
    CASE {n} % 3 WHEN 0 THEN 'pending' WHEN 1 THEN 'in_progress' ELSE 'completed' END,
    1 + {n} % 10, 't' || ({n} % 10), 'c' || ({n} % 20), '{{}}', 'agent', 'gen', 'gen',
    'agent', 'a' || ({n} % 50), 'A', '[]', {t0} + {n} * 1000, {t0} + {n} * 1000,
    {t0} + {n} * 1000 + ({n} % 7) * 100000
"""


def _sqlite_plan(db: sqlite3.Connection, st: listing.Statement) -> list[str]:
    return [r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {st.text}", st.params)]


def _pg_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _pg_nodes(child)
    return nodes


async def test_every_filter_and_sort_uses_an_index(db_url: str) -> None:
    failures: list[str] = []
    if db_url.startswith("sqlite"):
        db = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        db.create_function("ats_lower", 1, str.lower, deterministic=True)  # as the store does
        n = "n"
        db.execute(
            f"INSERT INTO tasks {_COLUMNS} WITH RECURSIVE g(n) AS "
            f"(SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {ROWS}) "
            f"SELECT {_VALUES.format(n=n, t0=T0)} FROM g"
        )
        db.commit()
        db.execute("ANALYZE")
        for name, q, ordered in CASES:
            walk = SQLITE_WALKS.get(name, [])  # what the store picks after its probes
            plan = _sqlite_plan(db, listing.list_statement(q, SQLITE, walk=walk))
            # The bare form is a walk of the table in id order: fine (it stops at LIMIT) only when
            # that is the order asked for; anything else is a full scan.
            if "SCAN tasks" in plan and q.sort_by != "id":
                failures.append(f"{name}: full scan {plan}")
            if ordered and any("TEMP B-TREE" in step for step in plan):
                failures.append(f"{name}: sorts the matches {plan}")
        db.close()
    else:
        conn = await asyncpg.connect(db_url)
        try:
            await conn.execute(
                f"INSERT INTO tasks {_COLUMNS} SELECT "
                f"{_VALUES.format(n='g', t0=T0)} FROM generate_series(1, {ROWS}) AS g"
            )
            await conn.execute("ANALYZE tasks")
            for name, q, ordered in CASES:
                st = listing.list_statement(q, PG)
                numbered, args = sql.bind(st.text, st.params)
                text = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {numbered}", *args)
                nodes = _pg_nodes(json.loads(text)[0]["Plan"])
                kinds = [node["Node Type"] for node in nodes]
                if any(k == "Seq Scan" and node.get("Relation Name") == "tasks"
                       for k, node in zip(kinds, nodes, strict=True)):  # fmt: skip
                    failures.append(f"{name}: full scan {kinds}")
                if ordered and any(k in ("Sort", "Incremental Sort") for k in kinds):
                    failures.append(f"{name}: sorts the matches {kinds}")
        finally:
            await conn.close()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("q", "where"),
    [
        (TaskQuery(), ""),
        (
            TaskQuery(statuses=(Status.PENDING,), channel="c"),
            " WHERE status = :status AND channel = :channel",
        ),
        (TaskQuery(search="ab"), " WHERE (ats_lower(title) LIKE ats_lower(:search_scan)"),
        (TaskQuery(search="abc"), " WHERE id IN (SELECT rowid FROM tasks_fts"),
    ],
)
def test_the_builder_emits_only_the_filters_given(q: TaskQuery, where: str) -> None:
    st = listing.list_statement(q, SQLITE)
    assert "IS NULL" not in st.text
    assert st.text.startswith("SELECT * FROM tasks" + where)
    assert st.text.endswith("ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset")
    assert (st.params["limit"], st.params["offset"]) == (q.limit, q.offset)


def test_keyset_parameters_are_named_and_numbered_for_asyncpg() -> None:
    q = TaskQuery(channel="c", sort_by="priority", descending=False, after=Keyset(5, 42))
    pg = listing.list_statement(q, PG)
    assert pg.text.endswith(
        "WHERE channel = :channel AND (priority, id) > (:after_value, :after_id) "
        "ORDER BY priority ASC, id ASC LIMIT :limit OFFSET :offset"
    )
    numbered, args = sql.bind(pg.text, pg.params)
    assert numbered.endswith(
        "WHERE channel = $1 AND (priority, id) > ($2, $3) ORDER BY priority ASC, id ASC "
        "LIMIT $4 OFFSET $5"
    )
    assert args == ["c", 5, 42, 50, 0]
    count = listing.count_statement(q, PG)  # no keyset in a count, and a cap
    assert count.text.endswith("FROM tasks WHERE channel = :channel LIMIT :cap) AS m")
    both = listing.count_statement(TaskQuery(channel="c", type="t"), PG)
    assert both.text.endswith("WHERE type = :type AND channel = :channel LIMIT :cap) AS m")
    assert sql.bind(both.text, both.params)[1] == ["t", "c", listing.COUNT_CAP + 1]
