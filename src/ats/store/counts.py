"""Exact counts from the counters of migration 0005, shared by both backends.

Triggers on ``tasks`` keep, per (project, status, channel, type), how many rows there are and the
sum of their completion times, plus per (project, hour) how many were created and completed: stats,
project counts and the ``count`` of simple list filters read those instead of scanning history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ats.models import Millis, Status
from ats.store.base import RowLike, TaskQuery
from ats.store.catalog import stats_document

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Ledger rows a PostgreSQL fold moves per statement (the upkeep loops until fewer remain).
FOLD_BATCH = 20_000

CountFilter = tuple[int | None, list[str] | None, str | None, str | None]


def count_filter(q: TaskQuery) -> CountFilter | None:
    """(project_id, statuses, channel, type) when the counters answer ``q`` exactly, else None.

    The counters are kept per (project, status, channel, type), so any mix of those four is
    exact; any other filter (assignee, priority, text, dates) is not. Sorting and paging do not
    change a count.
    """
    others = (
        q.assignee_id, q.priority, q.min_priority, q.max_priority, q.search, q.created_after,
        q.updated_after,
    )  # fmt: skip
    if any(v is not None for v in others):
        return None
    statuses = sorted({s.value for s in q.statuses}) or None
    return (q.project_id, statuses, q.channel, q.type)


def recent_hours(now: Millis) -> tuple[int, int]:
    """The hours (since the epoch) holding now - 24 h and now - 7 d: ``recent`` counts whole
    hours from those on, so a window spans 24 to 25 h (7 d to 7 d 1 h)."""
    return (now - DAY_MS) // HOUR_MS, (now - 7 * DAY_MS) // HOUR_MS


def stats_from_counts(rows: Iterable[RowLike], recent: RowLike | None) -> dict[str, Any]:
    """The ``/tasks/stats`` document from ``stats_counts`` rows and the ``stats_recent`` row."""
    by_status: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    done_ms = 0
    for r in rows:
        n = int(r["n"])
        by_status[r["status"]] = by_status.get(r["status"], 0) + n
        by_channel[r["channel"]] = by_channel.get(r["channel"], 0) + n
        if r["status"] == Status.COMPLETED.value:
            done_ms += int(r["done_ms"])
    completed = by_status.get(Status.COMPLETED.value, 0)
    times: dict[str, Any] = {
        "avg_ms": done_ms / completed if completed else None,
        "created_24h": 0, "completed_24h": 0, "created_7d": 0, "completed_7d": 0,
    }  # fmt: skip
    if recent is not None:
        for key in ("created_24h", "completed_24h", "created_7d", "completed_7d"):
            times[key] = int(recent[key] or 0)
    channels = {c: n for c, n in sorted(by_channel.items()) if n}
    return stats_document(by_status, channels, times)
