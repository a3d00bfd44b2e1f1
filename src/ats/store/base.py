"""What the storage ports take (queries, new rows), and the row mapping both backends share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ats.models import (
    Actor,
    ActorType,
    Event,
    EventId,
    EventType,
    FeedEvent,
    FeedType,
    Message,
    Millis,
    Status,
    Task,
    TaskId,
)

# Events whose id is missing this long after a later event committed are taken to belong to a
# rolled-back transaction (PostgreSQL sequences leave such gaps); younger gaps may still commit.
GAP_GRACE_MS = 2000


@dataclass(frozen=True, slots=True)
class NewTask:
    title: str
    description: str | None = None
    type: str = "task"
    channel: str = "default"
    priority: int = 5
    payload: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[int, ...] = ()
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class TaskQuery:
    project_id: int | None = None
    statuses: tuple[Status, ...] = ()
    type: str | None = None
    channel: str | None = None
    assignee_id: str | None = None
    priority: int | None = None
    min_priority: int | None = None
    max_priority: int | None = None
    search: str | None = None
    created_after: Millis | None = None
    updated_after: Millis | None = None
    sort_by: str = "created_at"
    descending: bool = True
    limit: int = 50
    offset: int = 0
    after: Keyset | None = None  # continue after this row (keyset pagination), in the same order


@dataclass(frozen=True, slots=True)
class Keyset:
    """The last row of a page: its ``sort_by`` value and its id (the tie-break)."""

    value: int | str
    id: int


@dataclass(frozen=True, slots=True)
class EventQuery:
    since: int = 0
    limit: int = 100
    project_id: int | None = None
    channel: str | None = None
    task_type: str | None = None
    types: tuple[str, ...] = ()
    task_id: int | None = None


@dataclass(frozen=True, slots=True)
class Kept:
    """What retention left of the event log: every id up to ``trimmed`` is gone (0: none yet);
    ``oldest`` is the first event kept (None: the log is empty)."""

    trimmed: int
    oldest: int | None

    def gone(self, since: int) -> bool:
        """Whether a reader asking for the events after ``since`` would miss some."""
        return since < self.trimmed


@dataclass(frozen=True, slots=True)
class NewFeedEvent:
    project_id: int
    agent: str
    type: FeedType
    summary: str
    detail: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class FeedQuery:
    """``after`` set: the first ``limit`` after that id; unset: the last ``limit``."""

    after: str | None = None
    limit: int = 50
    project_id: int | None = None
    agent: str | None = None
    type: str | None = None


SORT_COLUMNS: Mapping[str, str] = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "priority": "priority",
    "title": "title",
    "id": "id",
    "status": "status",
}


class RowLike(Protocol):
    """A database row: asyncpg's Record, sqlite3's Row, or a dict."""

    def __getitem__(self, key: str, /) -> Any: ...


# --- row mapping shared by both backends -------------------------------------------------------


def task_from_row(row: RowLike, project: str, messages: list[Message] | None = None) -> Task:
    """A task from a row whose JSON columns are already decoded."""
    assignee = None
    if row["assignee_id"] is not None:
        assignee = Actor(ActorType(row["assignee_type"]), row["assignee_id"], row["assignee_name"])
    return Task(
        id=TaskId(row["id"]),
        title=row["title"],
        description=row["description"],
        status=Status(row["status"]),
        priority=row["priority"],
        type=row["type"],
        channel=row["channel"],
        payload=row["payload"],
        outputs=row["outputs"],
        project=project,
        source=Actor(ActorType(row["source_type"]), row["source_id"], row["source_name"]),
        assignee=assignee,
        lease_expires=row["lease_expires"],
        lease_token=row["lease_token"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        depends_on=list(row["depends_on"]),
        reason=row["reason"],
        available_at=row["available_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
        messages=messages,
    )


def message_from_row(row: RowLike, parts: list[dict[str, Any]]) -> Message:
    return Message(
        id=row["id"],
        task_id=TaskId(row["task_id"]),
        actor=Actor(ActorType(row["actor_type"]), row["actor_id"], row["actor_name"]),
        parts=parts,
        created_at=row["created_at"],
    )


def event_snapshot(row: RowLike) -> dict[str, Any]:
    """The task an event row carries: its snapshot, with the payload put back when it is kept
    apart in ``event_payloads`` (read as ``payload_body``; see migration 0007)."""
    task: dict[str, Any] = row["task"]
    body = row["payload_body"]
    return task if body is None else {**task, "payload": body}


def event_from_row(row: RowLike, task: Task, message: Message | None) -> Event:
    return Event(
        id=EventId(row["id"]),
        type=EventType(row["type"]),
        task_id=TaskId(row["task_id"]),
        channel=row["channel"],
        task_type=row["task_type"],
        actor=Actor(ActorType(row["actor_type"]), row["actor_id"], row["actor_name"]),
        created_at=row["created_at"],
        task=task,
        message=message,
    )


TAIL_WINDOW = 1000
FORWARD_WINDOW = 10_000


def safe_horizon(tail: list[tuple[int, int]], since: int, now: Millis) -> int | None:
    """The horizon from the newest events instead of the oldest.

    ``tail`` is the (id, created_at) of the newest ``TAIL_WINDOW + 1`` events after ``since``,
    newest first. Only recent gaps can still fill, so when the window reaches back past the
    grace period, everything below it is settled and a filtered read may look as far as the
    horizon — a reader with a rare filter is never stuck re-reading one window of other events.
    None means the window is all younger than the grace period (a burst): scan forward instead.
    """
    rows = tail[::-1]
    if len(rows) <= TAIL_WINDOW:
        return contiguous_horizon(rows, since, now)
    anchor_id, anchor_at = rows[0]
    if anchor_at > now - GAP_GRACE_MS:
        return None
    return contiguous_horizon(rows[1:], anchor_id, now)


def settled_head(tail: list[tuple[int, int]], now: Millis, trimmed: int = 0) -> int:
    """The log's complete prefix, judged from its newest events (``tail``, newest first).

    The newest id may sit above an id whose transaction is still committing; a reader that starts
    live from the raw maximum would never see that event. When the window is full, its oldest
    event anchors the scan (a gap below ``TAIL_WINDOW`` newer events is a rollback).
    """
    rows = tail[::-1]
    if len(rows) <= TAIL_WINDOW:
        return contiguous_horizon(rows, trimmed, now)  # the trimmed ids are no gap to wait for
    return contiguous_horizon(rows[1:], rows[0][0], now)


def stalled(tail: list[tuple[int, int]], since: int, horizon: int) -> bool:
    """The horizon did not move past ``since`` though later events exist: the missing ids may be
    trimmed ones (look at :class:`Kept`) rather than commits still landing."""
    return horizon <= since and bool(tail)


def trim_range(row: RowLike) -> tuple[int, int] | None:
    """From ``events_trim_bound``: the ids ``(after, through]`` one trim step deletes, or None."""
    if row["last"] is None:
        return None
    through = row["young"] - 1 if row["young"] is not None else row["last"]
    through = min(through, row["newest"] - 1)
    return (row["trimmed"], through) if through > row["trimmed"] else None


def contiguous_horizon(ids_and_times: list[tuple[int, int]], since: int, now: Millis) -> int:
    """The highest event id up to which the log is known complete.

    ``ids_and_times`` are the (id, created_at) of the events after ``since`` in id order. A missing
    id is a transaction still committing (wait for it) unless a later event is older than the
    grace period, which means the missing one rolled back.
    """
    horizon = since
    for event_id, created_at in ids_and_times:
        if event_id != horizon + 1 and created_at > now - GAP_GRACE_MS:
            break
        horizon = event_id
    return horizon


def feed_from_row(row: RowLike, project: str) -> FeedEvent:
    return FeedEvent(
        id=row["id"],
        agent=row["agent"],
        type=FeedType(row["type"]),
        summary=row["summary"],
        timestamp=row["published_at"],
        detail=row["detail"],
        metadata=row["metadata"],
        project=project,
    )


def published(event_id: str, item: NewFeedEvent, now: Millis, project: str) -> FeedEvent:
    """The event just written for ``item``."""
    return FeedEvent(
        id=event_id,
        agent=item.agent,
        type=item.type,
        summary=item.summary,
        timestamp=now,
        detail=item.detail,
        metadata=item.metadata,
        project=project,
    )


def feed_stats_document(
    by_agent: Sequence[RowLike], by_type: Sequence[RowLike], latest: list[FeedEvent]
) -> dict[str, Any]:
    return {
        "total": sum(int(r["n"]) for r in by_agent),
        "byAgent": {r["key"]: int(r["n"]) for r in by_agent},
        "byType": {r["key"]: int(r["n"]) for r in by_type},
        "latestPerAgent": {e.agent: e.to_json() for e in latest},
    }


def task_to_row(task: Task, project_id: int) -> dict[str, Any]:
    """The inverse of :func:`task_from_row`: the row as ``row_to_json`` would spell it."""
    a = task.assignee
    return {
        "id": task.id,
        "project_id": project_id,
        "title": task.title,
        "description": task.description,
        "status": task.status.value,
        "priority": task.priority,
        "type": task.type,
        "channel": task.channel,
        "payload": task.payload,
        "outputs": task.outputs,
        "source_type": task.source.type.value,
        "source_id": task.source.id,
        "source_name": task.source.name,
        "assignee_type": a.type.value if a else None,
        "assignee_id": a.id if a else None,
        "assignee_name": a.name if a else None,
        "lease_expires": task.lease_expires,
        "lease_token": task.lease_token,
        "attempts": task.attempts,
        "max_attempts": task.max_attempts,
        "depends_on": task.depends_on,
        "reason": task.reason,
        "available_at": task.available_at,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "completed_at": task.completed_at,
    }
