"""What the API answers, as pydantic models — for the OpenAPI document only.

Routes encode their answers by hand (``to_json`` + orjson, see :mod:`ats.server.responses`):
validating every answer through these models would cost more than the work behind most routes.
The models are therefore declared with ``responses=answers(...)`` (documentation, never
``response_model``), and a test compares live answers on both databases with the published
schemas, so the two cannot drift apart unnoticed. ``extra="forbid"`` makes that test catch a field
the server adds without documenting it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from ats.models import ActorType, EventType, FeedType, Status

# Generic answers (400, 404, 413, 503) are added to every operation that can give them by
# ats.server.openapi; routes declare only what is particular to them (409).
ERRORS: dict[int, str] = {
    400: "Bad input: a parameter, header or body field is invalid (`field` names it).",
    404: "No such task, event, organization or project (or it belongs to another project).",
    409: "Refused: the status does not allow it (`status` is the current one), another actor "
    "holds the task, the lease token is stale, or the slug is taken.",
    410: "Events after the given id are no longer kept (event log retention): `oldest` is the "
    "first one kept; resume after `oldest - 1`.",
    413: "The request body is over the size limit.",
    503: "The database is unavailable; retry later.",
}

Timestamp = Annotated[
    str,
    Field(
        description="ISO-8601 UTC with milliseconds",
        examples=["2026-02-25T22:46:55.000Z"],
        json_schema_extra={"format": "date-time"},
    ),
]
Count = Annotated[int, Field(ge=0)]


def _no_null_defaults(schema: dict[str, Any]) -> None:
    """Fields that are absent when unset (``X | SkipJsonSchema[None] = None``) have no default."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)


class Error(BaseModel):
    """Every error answer, 404 and 405 included."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_no_null_defaults)

    error: str = Field(description="Human-readable message")
    code: str = Field(
        description="Machine-readable kind: invalid, unauthorized, forbidden, not_found, "
        "method_not_allowed, conflict, gone, too_large, unavailable, internal"
    )
    field: str | SkipJsonSchema[None] = Field(
        default=None, description="The parameter, header or body field at fault (400)"
    )
    status: Status | SkipJsonSchema[None] = Field(
        default=None, description="The task's current status (409 on a refused transition)"
    )
    task_id: int | SkipJsonSchema[None] = Field(default=None, description="The missing task (404)")
    valid: str | SkipJsonSchema[None] = Field(
        default=None, description="The accepted values (400 on an unknown feed event type)"
    )
    line: int | SkipJsonSchema[None] = Field(
        default=None, description="The offending line (400 from /feed/import)"
    )


class MessagePart(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=_no_null_defaults)

    type: str = Field(description='"text", or a type of the caller\'s own')
    content: Any = Field(description="A string for text parts; any JSON otherwise")


class Message(Wire):
    id: int
    task_id: int
    actor_type: ActorType
    actor_id: str
    actor_name: str
    parts: list[MessagePart]
    created_at: Timestamp


class Task(Wire):
    id: int = Field(description="Global, increasing")
    title: str
    description: str | None
    status: Status
    priority: int = Field(ge=1, le=10, description="Higher is more urgent")
    type: str
    channel: str
    payload: dict[str, Any] = Field(description="Stored verbatim")
    outputs: list[Any] | None = Field(description="Set by complete (a non-array is wrapped)")
    project: str = Field(description='"org/project"', examples=["default/main"])
    source_type: ActorType
    source_id: str
    source_name: str
    assignee_type: ActorType | None
    assignee_id: str | None
    assignee_name: str | None
    lease_expires: Timestamp | None = Field(description="Null unless in_progress")
    lease_token: int = Field(description="Fencing token of the current claim; only grows")
    attempts: Count
    max_attempts: int | None
    depends_on: list[int] = Field(description="Task ids that must complete first")
    reason: str | None = Field(description="Why it failed, was rejected, reopened or released")
    available_at: Timestamp = Field(description="Not handed out before (release with a delay)")
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None


class TaskWithMessages(Task):
    messages: list[Message]


class TaskPage(Wire):
    tasks: list[Task]
    count: Count = Field(
        description="How many match in total (not only this page); with `count_capped`, a "
        "lower bound: counting stopped at 10,000"
    )
    count_capped: bool | SkipJsonSchema[None] = Field(
        default=None,
        description="Present and true when counting stopped at 10,000 (search, or several "
        "filters at once, where an exact count would mean a scan)",
    )
    next: str | SkipJsonSchema[None] = Field(
        default=None,
        description="Present when more tasks match: pass it as `cursor` for the next page",
    )


class TaskList(Wire):
    tasks: list[Task]


class ItemError(Error):
    id: int = Field(description="The task this error is about")


class CompletedMany(Wire):
    tasks: list[Task] = Field(description="The tasks completed")
    errors: list[ItemError] = Field(description="One per item refused, the others still done")


class Deleted(Wire):
    deleted: Literal[True]
    id: int


class RecentCounts(Wire):
    created_24h: Count
    completed_24h: Count
    created_7d: Count
    completed_7d: Count


class TaskStats(Wire):
    total: Count
    by_status: dict[Status, int] = Field(description="Every status, zero included")
    by_channel: dict[str, int]
    avg_completion_seconds: float | None
    completed_count: Count
    recent: RecentCounts


class StatsAnswer(Wire):
    stats: TaskStats


class MessageList(Wire):
    messages: list[Message]


class EventData(Wire):
    task: Task = Field(description="The full task after the change")
    message: Message | SkipJsonSchema[None] = Field(default=None, description="task.message only")


class Event(Wire):
    type: EventType
    id: int = Field(description="Position in the durable, totally ordered log")
    task_id: int
    channel: str
    task_type: str
    actor_type: ActorType
    actor_id: str
    actor_name: str
    created_at: Timestamp
    data: EventData


class EventList(Wire):
    events: list[Event]


class LatestEvent(Wire):
    id: int = Field(description="Every event up to this id is in the log")
    oldest: int | None = Field(
        None, description="The oldest event kept (event log retention); absent: the log is empty"
    )


class FeedEvent(Wire):
    id: str = Field(description="ULID; id order is publish order", examples=["01JN0W5…"])
    agent: str
    type: FeedType
    summary: str
    detail: str | SkipJsonSchema[None] = None
    metadata: dict[str, Any] | SkipJsonSchema[None] = None
    timestamp: Timestamp


class FeedEventList(RootModel[list[FeedEvent]]):
    """A bare array, oldest first."""


class PublishFeedEvent(Wire):
    """The body of ``POST /feed/events`` (parsed by hand, for the feed skill's messages)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_no_null_defaults)

    agent: str = Field(min_length=1)
    type: FeedType
    summary: str = Field(min_length=1)
    detail: str | None = None
    metadata: dict[str, Any] | None = None


class FeedCleared(Wire):
    ok: Literal[True]


class FeedStats(Wire):
    total: Count
    byAgent: dict[str, int]
    byType: dict[FeedType, int]
    latestPerAgent: dict[str, FeedEvent]


class FeedImported(Wire):
    imported: Count = Field(description="Events added")
    skipped: Count = Field(description="Events whose id was already in the feed")


class Health(Wire):
    status: Literal["ok"]
    timestamp: Timestamp
    version: str
    database: Literal["sqlite", "postgresql"]


class Organization(Wire):
    id: int
    slug: str
    name: str
    created_at: Timestamp
    updated_at: Timestamp


class Project(Wire):
    id: int
    org: str = Field(description="The organization's slug")
    slug: str
    name: str
    description: str | None
    created_at: Timestamp
    updated_at: Timestamp
    pending_count: Count | SkipJsonSchema[None] = Field(default=None, description="counts=true")
    in_progress_count: Count | SkipJsonSchema[None] = Field(default=None, description="counts=true")
    total_count: Count | SkipJsonSchema[None] = Field(default=None, description="counts=true")


class OrganizationList(Wire):
    organizations: list[Organization]


class OrganizationAnswer(Wire):
    organization: Organization


class ProjectList(Wire):
    projects: list[Project]


class ProjectAnswer(Wire):
    project: Project


# Referenced from ``openapi_extra`` (hand-parsed bodies), so FastAPI does not collect them.
EXTRA_SCHEMAS: tuple[type[BaseModel], ...] = (PublishFeedEvent,)

Answers = dict[int | str, dict[str, Any]]


def answers(model: Any, *errors: int, status: int = 200) -> Answers:
    """A route's ``responses=``: its success model and the errors particular to it."""
    out: Answers = {status: {"model": model}}
    for code in errors:
        out[code] = {"model": Error, "description": ERRORS[code]}
    return out


# One server-sent event (OpenAPI 3.2 describes an event stream by its events; tools reading
# 3.1 documents, schemathesis among them, apply the schema of text/event-stream to each event).
_SSE_EVENT = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "description": "Resume point (Last-Event-ID)"},
        "event": {"type": "string", "description": "The event type"},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


def stream(media_type: str, description: str, *errors: int) -> Answers:
    """A streamed answer (SSE, JSON Lines): a text body described in words; SSE by its events."""
    schema = _SSE_EVENT if media_type == "text/event-stream" else {"type": "string"}
    out: Answers = {200: {"description": description, "content": {media_type: {"schema": schema}}}}
    for code in errors:
        out[code] = {"model": Error, "description": ERRORS[code]}
    return out


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a body the route parses by hand (listed in EXTRA_SCHEMAS)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def lines_body(description: str) -> dict[str, Any]:
    """``openapi_extra`` for a JSON Lines upload."""
    content = {"application/x-ndjson": {"schema": {"type": "string"}}}
    # An empty upload imports nothing (201, imported 0): the body is not required.
    return {"requestBody": {"required": False, "description": description, "content": content}}
