"""The durable event log, read by id (SPEC §2.3; streaming comes with /ws and SSE)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ats.errors import InvalidInput
from ats.models import EventType
from ats.server.deps import context
from ats.server.responses import JSON
from ats.store import EventQuery

router = APIRouter(tags=["events"])
_KNOWN = {e.value for e in EventType}


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
    types = tuple(t.strip() for t in event.split(",") if t.strip()) if event else ()
    unknown = [t for t in types if t not in _KNOWN]
    if unknown:
        raise InvalidInput(
            f"event: unknown event type {unknown[0]!r} "
            f"(expected one of {', '.join(sorted(_KNOWN))})",
            field="event",
        )
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
