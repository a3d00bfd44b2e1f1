"""The activity feed ``/feed`` (SPEC §7), compatible with the existing feed skill's curl calls.

Bodies are checked by hand rather than by a pydantic model: the skill's clients expect the
reference's messages (the field named, the valid types listed), and ``null``, arrays and strings
must be refused as bodies, not coerced.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from ats.errors import InvalidInput
from ats.jsontext import JsonError, dumps, loads_checked
from ats.models import FeedEvent, FeedType, now_ms, parse_iso
from ats.server import wire
from ats.server.body import JsonRoute
from ats.server.deps import context
from ats.server.responses import JSON
from ats.server.sse import stream
from ats.service.bus import Delivery, FeedBus, FeedFilter
from ats.service.feed import FeedService
from ats.store.base import FeedQuery, NewFeedEvent
from ats.ulids import after_millis, canonical, millis

router = APIRouter(prefix="/feed", tags=["feed"], route_class=JsonRoute)
VALID_TYPES = ", ".join(t.value for t in FeedType)
_TYPES = frozenset(t.value for t in FeedType)
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# ASCII digits only (int() also takes "1_0" and "١٢"); blank means the default. The OpenAPI
# document states the same pattern, which both JSON Schema and Python read alike.
_LIMIT = r"^ *(-?[0-9]+)? *$"
MAX_IMPORT_BYTES = 64 * 1024 * 1024
PAGE = 1000
FUTURE_SLACK_MS = 60_000  # clocks of clients and servers differ a little

AgentQuery = Annotated[str | None, Query(description="Only this agent's events")]
TypeQuery = Annotated[
    str | None,
    # "" (type=) is the same as absent, as the reference server reads it.
    Query(
        description="Only events of this type", json_schema_extra={"enum": [*sorted(_TYPES), ""]}
    ),
]
SinceQuery = Annotated[
    str | None,
    Query(description="After this event id (a ULID) or ISO-8601 time, exclusive"),
]


def _feed(request: Request) -> FeedService:
    feed: FeedService = request.app.state.feed
    return feed


def _project(request: Request) -> str | None:
    params = request.path_params
    return f"{params['org']}/{params['project']}" if "org" in params else None


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = loads_checked(raw)
    except JsonError as exc:
        if exc.path:
            raise InvalidInput(exc.message, field=exc.path) from None
        text = exc.message.removeprefix("malformed JSON: ")
        raise InvalidInput(f"Invalid JSON body: {text}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("Body must be a JSON object", field="body")
    return body


def _fields(body: dict[str, Any]) -> tuple[str, FeedType, str, str | None, dict[str, Any] | None]:
    agent = body.get("agent")
    if not isinstance(agent, str) or not agent.strip():
        raise InvalidInput("agent is required and must be a non-empty string", field="agent")
    kind = body.get("type")
    try:
        feed_type = FeedType(kind) if isinstance(kind, str) else None
    except ValueError:
        feed_type = None
    if feed_type is None:
        raise InvalidInput(
            f"Invalid type {kind!r}. Valid types: {VALID_TYPES}", field="type", valid=VALID_TYPES
        )
    summary = body.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise InvalidInput("summary is required and must be a non-empty string", field="summary")
    detail = body.get("detail")
    if detail is not None and not isinstance(detail, str):
        raise InvalidInput("detail must be a string", field="detail")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a JSON object", field="metadata")
    return agent, feed_type, summary, detail, metadata


def _since(text: str | None, field: str = "since") -> str | None:
    """A ULID (exclusive) or an ISO-8601 time (exclusive) → the id to read after."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    if len(value) == 26 and "-" not in value and ":" not in value:
        try:
            return canonical(value)
        except ValueError:
            pass
    try:
        return after_millis(parse_iso(value))
    except ValueError:
        raise InvalidInput(
            f"{field} must be an event id (ULID) or an ISO-8601 time, got {text!r}", field=field
        ) from None


def _type_filter(value: str | None) -> str | None:
    if value is None or not value:
        return None
    if value not in _TYPES:
        raise InvalidInput(
            f"Invalid type {value!r}. Valid types: {VALID_TYPES}", field="type", valid=VALID_TYPES
        )
    return value


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(_LIMIT, text):
        raise InvalidInput(f"limit must be an integer, got {text!r}", field="limit")
    digits = text.strip(" ")
    return max(1, min(MAX_LIMIT, int(digits))) if digits else DEFAULT_LIMIT


@router.post(
    "/events",
    status_code=201,
    summary="Publish an event",
    responses=wire.answers(wire.FeedEvent, status=201),
    openapi_extra=wire.json_body(wire.PublishFeedEvent),
)
async def publish(request: Request) -> JSON:
    """Body ``{agent, type, summary, detail?, metadata?}`` → 201 the event with its ULID."""
    _, scope, _ = await context(request)
    agent, kind, summary, detail, metadata = _fields(_object(await request.body()))
    item = NewFeedEvent(scope.create_in, agent, kind, summary, detail, metadata)
    event = await _feed(request).publish(item)
    return JSON(event.to_json(), status_code=201)


@router.get("/events", summary="Events, oldest first", responses=wire.answers(wire.FeedEventList))
async def list_events(
    request: Request,
    agent: AgentQuery = None,
    type: TypeQuery = None,
    since: SinceQuery = None,
    limit: Annotated[
        str | None,
        Query(
            description=f"An integer, clamped to 1..{MAX_LIMIT}; default {DEFAULT_LIMIT}",
            examples=["50"],
            json_schema_extra={"pattern": _LIMIT},
        ),
    ] = None,
) -> JSON:
    """Without ``since``: the last ``limit`` (default 50). With ``since`` (a ULID or an ISO time,
    exclusive): the first ``limit`` after it, so a polling loop never loses an event."""
    _, scope, _ = await context(request)
    query = FeedQuery(
        after=_since(since),
        limit=_limit(limit),
        project_id=scope.project_id,
        agent=agent or None,
        type=_type_filter(type),
    )
    events = await _feed(request).events(query)
    return JSON([e.to_json() for e in events])


@router.get("/events/{event_id}", summary="One event", responses=wire.answers(wire.FeedEvent))
async def get_event(
    request: Request,
    event_id: Annotated[str, Path(description="The event's ULID (any case)")],
) -> JSON:
    _, scope, _ = await context(request)
    event = await _feed(request).get(event_id.upper(), scope.project_id)
    return JSON(event.to_json())


@router.delete("/events", summary="Delete every event", responses=wire.answers(wire.FeedCleared))
async def clear(request: Request) -> JSON:
    _, scope, _ = await context(request)
    await _feed(request).clear(scope.project_id)
    return JSON({"ok": True})


@router.get(
    "/stats",
    summary="Counts by agent and type, and each agent's latest event",
    responses=wire.answers(wire.FeedStats),
)
async def stats(request: Request) -> JSON:
    _, scope, _ = await context(request)
    return JSON(await _feed(request).stats(scope.project_id))


@router.get(
    "/stream",
    summary="Server-sent events, live (with `since` / Last-Event-ID)",
    responses=wire.stream(
        "text/event-stream",
        "`id: <ULID>` and `data: <feed event JSON>` frames, then live; `: heartbeat` every 15 s",
    ),
)
async def live(
    request: Request,
    agent: AgentQuery = None,
    type: TypeQuery = None,
    since: SinceQuery = None,
) -> StreamingResponse:
    """``id: <ULID>`` and ``data: <event>`` frames (no ``event:`` line, so a browser's
    ``onmessage`` sees them); ``: heartbeat`` every 15 s."""
    await context(request)  # 404 for an unknown project
    after = _since(since)
    last = request.headers.get("last-event-id")
    if last is not None and last.strip():
        after = _since(last, field="Last-Event-ID")
    wanted = FeedFilter(agent=agent or None, type=_type_filter(type), project=_project(request))
    bus: FeedBus = request.app.state.feed_bus
    sub = await bus.subscribe(wanted)  # before the replay, so nothing published meanwhile is lost
    if after is not None and millis(after) > now_ms() + FUTURE_SLACK_MS:
        # New events get ids from the clock: one after a future id would wait until then.
        sub.close()
        field = "Last-Event-ID" if last else "since"
        raise InvalidInput(f"{field}: {after} is in the future", field=field)
    return stream(sub, after, _frame)


def _frame(delivery: Delivery[FeedEvent]) -> bytes:
    frame = delivery.wire.get("sse")
    if frame is None:  # once per event, not once per subscriber
        frame = b"id: " + delivery.event.id.encode() + b"\ndata: " + delivery.json + b"\n\n"
        delivery.wire["sse"] = frame
    return frame


@router.get(
    "/export",
    summary="The whole feed as JSON Lines (feed.jsonl), oldest first",
    responses=wire.stream("application/x-ndjson", "One feed event (JSON) per line"),
)
async def export(request: Request) -> StreamingResponse:
    _, scope, _ = await context(request)
    feed = _feed(request)

    async def lines() -> AsyncIterator[bytes]:
        after = ""
        while True:
            page = await feed.events(
                FeedQuery(after=after, limit=PAGE, project_id=scope.project_id)
            )
            if not page:
                return
            yield b"".join(dumps(e.to_json()) + b"\n" for e in page)
            after = page[-1].id

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post(
    "/import",
    status_code=201,
    summary="Add events from JSON Lines (feed.jsonl)",
    responses=wire.answers(wire.FeedImported, status=201),
    openapi_extra=wire.lines_body(
        "One feed event per line, as /feed/export writes them: "
        "`{id, agent, type, summary, detail?, metadata?, timestamp}`"
    ),
)
async def import_events(request: Request) -> Response:
    """All or nothing: a line that is not an event fails the import with its line number.
    Events keep their ids; ids already in the feed are skipped."""
    _, scope, _ = await context(request)
    # A large file takes a while to parse: off the event loop, so other requests go on.
    events = await asyncio.to_thread(parse_lines, await request.body())
    added = await _feed(request).import_events(scope.create_in, events)
    return JSON({"imported": added, "skipped": len(events) - added}, status_code=201)


def parse_lines(raw: bytes) -> list[FeedEvent]:
    events: list[FeedEvent] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            body = _object(line)
            agent, kind, summary, detail, metadata = _fields(body)
            event_id = body.get("id")
            if not isinstance(event_id, str):
                raise InvalidInput("id is required and must be a ULID string", field="id")
            try:
                event_id = canonical(event_id)
            except ValueError:
                raise InvalidInput(f"id {event_id!r} is not a ULID", field="id") from None
            stamp = body.get("timestamp")
            try:
                when = parse_iso(stamp) if isinstance(stamp, str) else None
            except ValueError:
                when = None
            if when is None:
                raise InvalidInput("timestamp must be an ISO-8601 time", field="timestamp")
        except InvalidInput as exc:
            raise InvalidInput(
                f"line {number}: {exc.message}", line=number, **exc.details
            ) from None
        events.append(FeedEvent(event_id, agent, kind, summary, when, detail, metadata))
    return events
