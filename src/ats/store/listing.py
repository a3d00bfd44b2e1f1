"""The statements behind ``GET /tasks``: a WHERE clause made of only the filters given.

A catch-all ``(? IS NULL OR col = ?)`` statement defeats the index of every column in both
planners (PostgreSQL's generic plan and SQLite's planner must cover the NULL case, so they scan).
Each backend instead names one fixed fragment per filter in its ``queries.sql``
(``list_where_<filter>``, binding one parameter ``:<filter>``); this module picks the fragments of
the filters that are set and appends the keyset position and the whitelisted ORDER BY. Nothing
from the request reaches the text: values are bound, the sort column comes from
:data:`~ats.store.base.SORT_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ats.store.base import SORT_COLUMNS, TaskQuery

# Counting stops here for the filters that would need a scan to count exactly (SPEC §9.1).
COUNT_CAP = 10_000
# FTS5's trigram tokenizer indexes 3-character windows: a shorter string matches no token.
TRIGRAM = 3


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the backends: their fragments and how some values are bound."""

    queries: Mapping[str, str]
    statuses: Callable[[list[str]], Any]  # several statuses, bound as one parameter
    search: Callable[[str], Any]  # a search of TRIGRAM characters or more, bound for its fragment
    # A fragment naming the FROM of a count that has a search: the index joined to its rows, with
    # the match in the join, so the count streams up to the cap (SQLite's FTS5); None: the plain
    # WHERE fragment serves (PostgreSQL's bitmap scan stops at the LIMIT by itself).
    count_search_from: str | None = None
    count_search_alone: str | None = None  # the same when the search is the only filter
    # filter fragment → the fragment that tests it on each row as the requested order is walked,
    # for a backend whose planner cannot tell a common filter from a rare one (SQLite: it keeps
    # no histogram). The store picks which filters to walk; see :func:`list_statement`.
    walk: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Statement:
    text: str
    params: dict[str, Any]  # by name (``:project_id``)
    capped: bool = False  # a count that stops at COUNT_CAP + 1 rows


def like_pattern(text: str) -> str:
    """``%text%`` with ``\\``, ``%`` and ``_`` taken literally (``ESCAPE '\\'``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(q: TaskQuery, d: Dialect, walk: Collection[str] = ()) -> list[tuple[str, str, Any]]:
    """(fragment name, parameter name, bound value) for every filter set, in a fixed order.
    The filters named in ``walk`` take their walking fragment (see :func:`list_statement`)."""
    found: list[tuple[str, Any]] = []
    if q.project_id is not None:
        found.append(("list_where_project", q.project_id))
    if len(q.statuses) == 1:
        found.append(("list_where_status", q.statuses[0].value))
    elif q.statuses:
        found.append(("list_where_statuses", d.statuses([s.value for s in q.statuses])))
    for name, value in (
        ("list_where_type", q.type),
        ("list_where_channel", q.channel),
        ("list_where_assignee", q.assignee_id),
        ("list_where_priority", q.priority),
        ("list_where_min_priority", q.min_priority),
        ("list_where_max_priority", q.max_priority),
        ("list_where_created_after", q.created_after),
        ("list_where_updated_after", q.updated_after),
    ):
        if value is not None:
            found.append((name, value))
    if q.search:
        if indexed_search(q) and "list_where_search" not in walk:
            found.append(("list_where_search", d.search(q.search)))
        else:
            found.append(("list_where_search_scan", like_pattern(q.search)))
    return [
        (d.walk.get(name, name) if name in walk else name, name.removeprefix("list_where_"), value)
        for name, value in found
    ]


def indexed_search(q: TaskQuery) -> bool:
    """Whether the search of ``q`` (if any) can be looked up in the trigram index."""
    return q.search is not None and len(q.search) >= TRIGRAM


def _fragment(d: Dialect, name: str) -> str:
    """A named fragment without its comment lines (they document the .sql file, and a fragment
    is spliced into the middle of a line)."""
    lines = d.queries[name].splitlines()
    return " ".join(line.strip() for line in lines if not line.lstrip().startswith("--"))


def _where(
    q: TaskQuery, d: Dialect, keyset: bool, walk: Collection[str] = (), skip: str = ""
) -> tuple[list[str], dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for name, param, value in _filters(q, d, walk):
        params[param] = value
        if name == skip:
            continue
        clauses.append(_fragment(d, name))
    if keyset and q.after is not None:
        column = SORT_COLUMNS[q.sort_by]
        op = "<" if q.descending else ">"
        params["after_id"] = q.after.id
        if column == "id":
            clauses.append(f"id {op} :after_id")
        else:
            params["after_value"] = q.after.value
            # A row comparison: both planners seek a (column, id) index straight to it.
            clauses.append(f"({column}, id) {op} (:after_value, :after_id)")
    return clauses, params


def _where_text(clauses: list[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def list_statement(q: TaskQuery, d: Dialect, walk: Collection[str] = ()) -> Statement:
    """One page: the filters, after the keyset position if any, in the requested order.

    ``walk`` names filter fragments (``list_where_search``, ``list_where_priority``, ...) to test
    on each row as the requested order is walked, instead of reading every match from the
    filter's index and sorting them: the faster plan for a filter so common that a page of
    matches is near. The backend decides, e.g. by counting matches up to a probe.
    """
    clauses, params = _where(q, d, keyset=True, walk=walk)
    column = SORT_COLUMNS[q.sort_by]
    direction = "DESC" if q.descending else "ASC"
    order = f"{column} {direction}" if column == "id" else f"{column} {direction}, id {direction}"
    params |= {"limit": q.limit, "offset": q.offset}
    where = _where_text(clauses)
    text = f"{_fragment(d, 'list_tasks')}{where} ORDER BY {order} LIMIT :limit OFFSET :offset"
    return Statement(text, params)


def count_statement(q: TaskQuery, d: Dialect) -> Statement:
    """``SELECT … AS n`` counting at most COUNT_CAP + 1 matches.

    Filters the counters answer (project, status, channel, type: :mod:`ats.store.counts`) never
    get here; any other filter counts by reading its matches, so it stops at the cap — an exact
    count of ``assignee_id`` or a priority range would read every match, 100,000 and more of
    them at a million tasks.
    """
    source = "tasks"
    skip = ""
    if indexed_search(q) and d.count_search_from is not None:
        source, skip = _fragment(d, d.count_search_from), "list_where_search"
    clauses, params = _where(q, d, keyset=False, skip=skip)
    if skip and not clauses and d.count_search_alone is not None:
        source = _fragment(d, d.count_search_alone)  # its own WHERE: no other clause follows
    where = _where_text(clauses)
    params["cap"] = COUNT_CAP + 1
    text = f"SELECT count(*) AS n FROM (SELECT 1 FROM {source}{where} LIMIT :cap) AS m"
    return Statement(text, params, capped=True)


def counted(st: Statement, n: int) -> tuple[int, bool]:
    """The (count, capped) answer of ``st``, a :func:`count_statement` that found ``n``."""
    return (COUNT_CAP, True) if st.capped and n > COUNT_CAP else (n, False)
