"""The durable event log: read by id, or streamed live over SSE (SPEC §2.3, §4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from ats.errors import Gone, InvalidInput
from ats.models import Event, EventType
from ats.server import wire
from ats.server.body import JsonRoute
from ats.server.deps import context
from ats.server.responses import JSON
from ats.server.sse import beyond_head, stream
from ats.service.bus import Delivery, EventBus, EventFilter
from ats.store import EventQuery

router = APIRouter(tags=["events"], route_class=JsonRoute)
MAX_EVENT_ID = 2**63 - 1
_KNOWN = {e.value for e in EventType}

ChannelQuery = Annotated[str | None, Query(description="Only events of tasks in this channel")]
TaskTypeQuery = Annotated[str | None, Query(description="Only events of tasks of this type")]
EventTypesQuery = Annotated[
    str | None,
    Query(description=f"Comma-separated event types ({', '.join(e.value for e in EventType)})"),
]


def _event_types(text: str | None) -> tuple[str, ...]:
    types = tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()
    unknown = [t for t in types if t not in _KNOWN]
    if unknown:
        raise InvalidInput(
            f"event: unknown event type {unknown[0]!r} "
            f"(expected one of {', '.join(sorted(_KNOWN))})",
            field="event",
        )
    return types


@router.get(
    "/events",
    summary="Events after `since`, in id order",
    responses=wire.answers(wire.EventList, 410),
)
async def list_events(
    request: Request,
    since: Annotated[
        int | None,
        Query(
            description="Only events after this id (exclusive); absent: from the oldest kept. "
            "410 when some events after it are no longer kept (`oldest` is the first kept)",
            json_schema_extra={"minimum": 0, "maximum": MAX_EVENT_ID},
        ),
    ] = None,
    limit: Annotated[
        int, Query(description="At most this many (1000 at most)", json_schema_extra={"minimum": 1})
    ] = 100,
    channel: ChannelQuery = None,
    type: TaskTypeQuery = None,
    event: EventTypesQuery = None,
    task_id: Annotated[
        int | None,
        Query(
            description="Only this task's events",
            json_schema_extra={"minimum": 1, "maximum": MAX_EVENT_ID},
        ),
    ] = None,
) -> JSON:
    svc, scope, _ = await context(request)
    checked = since is not None
    since = since or 0
    if not 0 <= since <= MAX_EVENT_ID:
        raise InvalidInput("since: must be an event id (0 to 2^63-1)", field="since")
    if task_id is not None and not 0 < task_id <= MAX_EVENT_ID:
        raise InvalidInput("task_id: must be a task id (1 to 2^63-1)", field="task_id")
    if not limit >= 1:
        raise InvalidInput("limit: must be between 1 and 1000", field="limit")
    types = _event_types(event)
    query = EventQuery(
        since=since,
        limit=min(limit, 1000),
        project_id=scope.project_id,
        channel=channel,
        task_type=type,
        types=types,
        task_id=task_id,
    )
    events = await svc.events(query, checked)
    return JSON({"events": [e.to_json() for e in events]})


@router.get(
    "/events/latest",
    summary="Where a live reader starts: the newest settled event id",
    responses=wire.answers(wire.LatestEvent),
)
async def latest_event(request: Request) -> JSON:
    """``{"id": N, "oldest": M}``: every event up to N is in the log; subscribing with
    ``since: N`` misses nothing that comes after (ATS extension, used by clients that resume).
    ``oldest`` is the first event retention kept (absent while the log is empty)."""
    svc, _, _ = await context(request)
    body: dict[str, int] = {"id": await svc.latest_event_id()}
    oldest = await svc.oldest_event_id()
    if oldest is not None:
        body["oldest"] = oldest
    return JSON(body)


@router.get(
    "/events/stream",
    summary="Server-sent events, live (with `since` / Last-Event-ID)",
    responses=wire.stream(
        "text/event-stream",
        "`id: <event id>`, `event: <type>` and `data: <event JSON>` frames (the event as in "
        "GET /events), then live; a `: heartbeat` comment every 15 s",
        410,
    ),
)
async def stream_events(
    request: Request,
    since: Annotated[
        int | None,
        Query(
            description="Replay the events after this id first (Last-Event-ID wins); "
            "absent: only new events. 410 when some events after it are no longer kept",
            json_schema_extra={"minimum": 0, "maximum": MAX_EVENT_ID},
        ),
    ] = None,
    channel: ChannelQuery = None,
    type: TaskTypeQuery = None,
    event: EventTypesQuery = None,
) -> StreamingResponse:
    """``id:`` / ``event:`` / ``data:`` frames; a ``: heartbeat`` comment every 15 s."""
    await context(request)  # validates the scope (404 for an unknown project)
    last = request.headers.get("last-event-id")
    if last is not None:
        since = _event_id(last, "Last-Event-ID")
    if since is not None and not 0 <= since <= MAX_EVENT_ID:
        raise InvalidInput("since: must be an event id (0 to 2^63-1)", field="since")
    params = request.path_params
    wanted = EventFilter(
        channels=EventFilter.of([channel] if channel else None),
        task_types=EventFilter.of([type] if type else None),
        event_types=EventFilter.of(_event_types(event) or None),
        project=f"{params['org']}/{params['project']}" if "org" in params else None,
    )
    bus: EventBus = request.app.state.bus
    sub = await bus.subscribe(wanted)  # before the replay, so nothing committed meanwhile is lost
    await beyond_head(bus, sub, since, "Last-Event-ID" if last is not None else "since")
    if since is not None:
        try:
            await bus.ensure_kept(since)  # 410 now, while an error can still be the answer
        except Gone:
            sub.close()
            raise
    return stream(sub, since, _frame)


def _event_id(text: str, field: str) -> int:
    value = text.strip()
    # str.isdigit() also takes digits int() refuses ("²"): ASCII digits only.
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_EVENT_ID:
        raise InvalidInput(f"{field}: must be an event id, got {text[:40]!r}", field=field)
    return int(value)


def _frame(delivery: Delivery[Event]) -> bytes:
    frame = delivery.wire.get("sse")
    if frame is None:  # once per event, not once per subscriber
        head = f"id: {delivery.event.id}\nevent: {delivery.event.type.value}\ndata: ".encode()
        frame = delivery.wire["sse"] = head + delivery.json + b"\n\n"
    return frame
