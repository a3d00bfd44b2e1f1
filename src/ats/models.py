"""The domain vocabulary: tasks, statuses, actors, events, messages.

Timestamps are integer milliseconds since the epoch everywhere inside ATS (both databases store
them that way); they become ISO-8601 strings with milliseconds and ``Z`` only on the wire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, NewType

TaskId = NewType("TaskId", int)
EventId = NewType("EventId", int)
Millis = NewType("Millis", int)

DEFAULT_ORG = "default"
DEFAULT_PROJECT = "main"
DEFAULT_LEASE_MS = 60_000
DEFAULT_PRIORITY = 5


def now_ms() -> Millis:
    return Millis(int(time.time() * 1000))


def iso(ms: int | None) -> str | None:
    """Milliseconds → ``2026-02-25T22:46:55.000Z`` (None stays None)."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return f"{_iso_second(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=4096)
def _iso_second(seconds: int) -> str:
    # Every response and event carries several timestamps, mostly of the same few seconds:
    # formatting each second once is most of the cost of encoding a task.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_iso(text: str) -> Millis:
    """ISO-8601 (``Z`` or offset, naive means UTC) → milliseconds; ValueError if malformed."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return Millis(int(dt.timestamp() * 1000))


class Status(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({Status.COMPLETED, Status.CANCELLED, Status.FAILED, Status.REJECTED})


class ActorType(StrEnum):
    HUMAN = "human"
    AGENT = "agent"
    SYSTEM = "system"


class EventType(StrEnum):
    CREATED = "task.created"
    CLAIMED = "task.claimed"
    UPDATED = "task.updated"
    COMPLETED = "task.completed"
    CANCELLED = "task.cancelled"
    FAILED = "task.failed"
    REJECTED = "task.rejected"
    REOPENED = "task.reopened"
    MESSAGE = "task.message"
    LEASE_EXPIRED = "task.lease_expired"
    RELEASED = "task.released"
    DELETED = "task.deleted"


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    id: str
    name: str

    @property
    def key(self) -> tuple[str, str]:
        """What makes two actors the same holder of a lease."""
        return (self.type.value, self.id)


# Requests without X-Actor-* headers act as this actor.
ANONYMOUS = Actor(ActorType.HUMAN, "anonymous", "Anonymous")
SYSTEM = Actor(ActorType.SYSTEM, "ats", "ATS")


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    task_id: TaskId
    actor: Actor
    parts: list[dict[str, Any]]
    created_at: Millis

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task_id": self.task_id,
            "actor_type": self.actor.type.value,
            "actor_id": self.actor.id,
            "actor_name": self.actor.name,
            "parts": self.parts,
            "created_at": iso(self.created_at),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Message:
        return cls(
            id=int(d["id"]),
            task_id=TaskId(int(d["task_id"])),
            actor=Actor(ActorType(d["actor_type"]), d["actor_id"], d["actor_name"]),
            parts=list(d.get("parts") or []),
            created_at=parse_iso(d["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class Task:
    id: TaskId
    title: str
    description: str | None
    status: Status
    priority: int
    type: str
    channel: str
    payload: dict[str, Any]
    outputs: list[Any] | None
    project: str  # "org/project"
    source: Actor
    assignee: Actor | None
    lease_expires: Millis | None
    lease_token: int
    attempts: int
    max_attempts: int | None
    depends_on: list[int]
    reason: str | None
    available_at: Millis
    created_at: Millis
    updated_at: Millis
    completed_at: Millis | None = None
    messages: list[Message] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        a = self.assignee
        d: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "status": self.status.value,
            "priority": self.priority,
            "type": self.type,
            "channel": self.channel,
            "payload": self.payload,
            "outputs": self.outputs,
            "project": self.project,
            "source_type": self.source.type.value,
            "source_id": self.source.id,
            "source_name": self.source.name,
            "assignee_type": a.type.value if a else None,
            "assignee_id": a.id if a else None,
            "assignee_name": a.name if a else None,
            "lease_expires": iso(self.lease_expires),
            "lease_token": self.lease_token,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "depends_on": self.depends_on,
            "reason": self.reason,
            "available_at": iso(self.available_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "completed_at": iso(self.completed_at),
        }
        if self.messages is not None:
            d["messages"] = [m.to_json() for m in self.messages]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Task:
        def ms(key: str) -> Millis | None:
            v = d.get(key)
            return parse_iso(v) if isinstance(v, str) else None

        assignee = None
        if d.get("assignee_id") is not None:
            assignee = Actor(
                ActorType(d.get("assignee_type") or "agent"),
                d["assignee_id"],
                d.get("assignee_name") or d["assignee_id"],
            )
        messages = d.get("messages")
        return cls(
            id=TaskId(int(d["id"])),
            title=d["title"],
            description=d.get("description"),
            status=Status(d["status"]),
            priority=int(d.get("priority", DEFAULT_PRIORITY)),
            type=d.get("type", "task"),
            channel=d.get("channel", "default"),
            payload=d.get("payload") or {},
            outputs=d.get("outputs"),
            project=d.get("project") or f"{DEFAULT_ORG}/{DEFAULT_PROJECT}",
            source=Actor(
                ActorType(d.get("source_type") or "human"),
                d.get("source_id") or "anonymous",
                d.get("source_name") or "",
            ),
            assignee=assignee,
            lease_expires=ms("lease_expires"),
            lease_token=int(d.get("lease_token") or 0),
            attempts=int(d.get("attempts") or 0),
            max_attempts=d.get("max_attempts"),
            depends_on=[int(x) for x in d.get("depends_on") or []],
            reason=d.get("reason"),
            available_at=ms("available_at") or Millis(0),
            created_at=ms("created_at") or Millis(0),
            updated_at=ms("updated_at") or Millis(0),
            completed_at=ms("completed_at"),
            messages=[Message.from_json(m) for m in messages] if messages is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Event:
    id: EventId
    type: EventType
    task_id: TaskId
    channel: str
    task_type: str
    actor: Actor
    created_at: Millis
    task: Task
    message: Message | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"task": self.task.to_json()}
        if self.message is not None:
            data["message"] = self.message.to_json()
        return {
            "type": self.type.value,
            "id": self.id,
            "task_id": self.task_id,
            "channel": self.channel,
            "task_type": self.task_type,
            "actor_type": self.actor.type.value,
            "actor_id": self.actor.id,
            "actor_name": self.actor.name,
            "created_at": iso(self.created_at),
            "data": data,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Event:
        data = d.get("data") or {}
        message = data.get("message")
        return cls(
            id=EventId(int(d["id"])),
            type=EventType(d["type"]),
            task_id=TaskId(int(d["task_id"])),
            channel=d.get("channel") or "default",
            task_type=d.get("task_type") or "task",
            actor=Actor(
                ActorType(d.get("actor_type") or "human"),
                d.get("actor_id") or "anonymous",
                d.get("actor_name") or "",
            ),
            created_at=parse_iso(d["created_at"]),
            task=Task.from_json(data["task"]),
            message=Message.from_json(message) if message else None,
        )


@dataclass(frozen=True, slots=True)
class Org:
    id: int
    slug: str
    name: str
    created_at: Millis
    updated_at: Millis

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    org: str
    slug: str
    name: str
    description: str | None
    created_at: Millis
    updated_at: Millis
    counts: dict[str, int] | None = None

    @property
    def path(self) -> str:
        return f"{self.org}/{self.slug}"

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "org": self.org,
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if self.counts is not None:
            d.update(self.counts)
        return d


class FeedType(StrEnum):
    """What an activity-feed event says (SPEC §7)."""

    TASK_STARTED = "task_started"
    TASK_COMPLETED = "task_completed"
    TASK_FAILED = "task_failed"
    BLOCKER_FOUND = "blocker_found"
    QUESTION = "question"
    FINDING = "finding"
    SKILL_PROPOSED = "skill_proposed"
    FILE_CHANGED = "file_changed"
    COST_UPDATE = "cost_update"
    TOKEN_UPDATE = "token_update"
    AGENT_STARTED = "agent_started"
    AGENT_STOPPED = "agent_stopped"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One activity-feed entry. ``id`` is a ULID; id order is publish order."""

    id: str
    agent: str
    type: FeedType
    summary: str
    timestamp: Millis
    detail: str | None = None
    metadata: dict[str, Any] | None = None
    project: str = f"{DEFAULT_ORG}/{DEFAULT_PROJECT}"

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "agent": self.agent,
            "type": self.type.value,
            "summary": self.summary,
        }
        if self.detail is not None:
            d["detail"] = self.detail
        if self.metadata is not None:
            d["metadata"] = self.metadata
        d["timestamp"] = iso(self.timestamp)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FeedEvent:
        return cls(
            id=str(d["id"]),
            agent=str(d["agent"]),
            type=FeedType(d["type"]),
            summary=str(d["summary"]),
            timestamp=parse_iso(d["timestamp"]),
            detail=d.get("detail"),
            metadata=d.get("metadata"),
        )
