"""Row mapping for orgs and projects, and the shape of the stats document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ats.models import Millis, Org, Project, Status
from ats.store.base import RowLike


def org_from_row(row: RowLike) -> Org:
    return Org(row["id"], row["slug"], row["name"], row["created_at"], row["updated_at"])


def project_from_row(row: RowLike, counts: bool) -> Project:
    return Project(
        id=row["id"],
        org=row["org"],
        slug=row["slug"],
        name=row["name"],
        description=row["description"],
        created_at=Millis(row["created_at"]),
        updated_at=Millis(row["updated_at"]),
        counts={
            "pending_count": int(row["pending_count"]),
            "in_progress_count": int(row["in_progress_count"]),
            "total_count": int(row["total_count"]),
        }
        if counts
        else None,
    )


def stats_document(
    by_status: dict[str, int], by_channel: dict[str, int], times: Mapping[str, Any]
) -> dict[str, Any]:
    """SPEC §3 ``/tasks/stats``; every status is present, zero when there is none."""
    statuses = {s.value: int(by_status.get(s.value, 0)) for s in Status}
    avg_ms = times["avg_ms"]
    return {
        "total": sum(statuses.values()),
        "by_status": statuses,
        "by_channel": {k: int(v) for k, v in by_channel.items()},
        "avg_completion_seconds": round(float(avg_ms) / 1000, 3) if avg_ms is not None else None,
        "completed_count": statuses[Status.COMPLETED.value],
        "recent": {
            "created_24h": int(times["created_24h"] or 0),
            "completed_24h": int(times["completed_24h"] or 0),
            "created_7d": int(times["created_7d"] or 0),
            "completed_7d": int(times["completed_7d"] or 0),
        },
    }
