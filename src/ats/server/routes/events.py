"""The durable event log: read by id, or streamed live over SSE (SPEC §2.3, §4)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from ats.errors import InvalidInput
from ats.models import Event, EventType
from ats.server.deps import context
from ats.server.responses import JSON
from ats.server.sse import stream
from ats.service.bus import Delivery, EventBus, EventFilter
from ats.store import EventQuery

router = APIRouter(tags=["events"])
_KNOWN = {e.value for e in EventType}


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


@router.get("/events", summary="Events after `since`, in id order")
async def list_events(
    request: Request,
    since: int = 0,
    limit: int = 100,
    channel: str | None = None,
    type: str | None = None,
    event: str | None = None,
    task_id: int | None = None,
) -> JSON:
    svc, scope, _ = await context(request)
    if since < 0:
        raise InvalidInput("since: must not be negative", field="since")
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
    events = await svc.events(query)
    return JSON({"events": [e.to_json() for e in events]})


@router.get("/events/latest", summary="Where a live reader starts: the newest settled event id")
async def latest_event(request: Request) -> JSON:
    """``{"id": N}``: every event up to N is in the log; subscribing with ``since: N`` misses
    nothing that comes after (ATS extension, used by clients that resume)."""
    svc, _, _ = await context(request)
    return JSON({"id": await svc.latest_event_id()})


@router.get("/events/stream", summary="Server-sent events, live (with `since` / Last-Event-ID)")
async def stream_events(
    request: Request,
    since: int | None = None,
    channel: str | None = None,
    type: str | None = None,
    event: str | None = None,
) -> StreamingResponse:
    """``id:`` / ``event:`` / ``data:`` frames; a ``: heartbeat`` comment every 15 s."""
    await context(request)  # validates the scope (404 for an unknown project)
    last = request.headers.get("last-event-id")
    if last is not None:
        if not last.strip().isdigit():
            raise InvalidInput("Last-Event-ID: must be an event id", field="Last-Event-ID")
        since = int(last)
    if since is not None and since < 0:
        raise InvalidInput("since: must not be negative", field="since")
    params = request.path_params
    wanted = EventFilter(
        channels=EventFilter.of([channel] if channel else None),
        task_types=EventFilter.of([type] if type else None),
        event_types=EventFilter.of(_event_types(event) or None),
        project=f"{params['org']}/{params['project']}" if "org" in params else None,
    )
    bus: EventBus = request.app.state.bus
    sub = await bus.subscribe(wanted)  # before the replay, so nothing committed meanwhile is lost
    return stream(sub, since, _frame)


def _frame(delivery: Delivery[Event]) -> bytes:
    frame = delivery.wire.get("sse")
    if frame is None:  # once per event, not once per subscriber
        head = f"id: {delivery.event.id}\nevent: {delivery.event.type.value}\ndata: ".encode()
        frame = delivery.wire["sse"] = head + delivery.json + b"\n\n"
    return frame
