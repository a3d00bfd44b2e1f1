"""``ats watch``: live events, one line each, resumed across disconnects (SPEC §5).

Table mode prints ``Task #<id>: <title>`` per event — daemons parse that — and, only when stdout is
a terminal, the time and event type before it. ``-f json`` prints one compact JSON object per line.
Notices (reconnecting…) go to stderr, so stdout stays parseable. Events the server no longer
keeps (event log retention; ``--since`` too old) are announced on stderr with a ``WARNING:`` line
naming how many were missed at most, then the watch goes on from the oldest kept event.
Ctrl-C or SIGTERM exits 0.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import typer

from ats import redact
from ats.cli import render
from ats.cli.follow import follow
from ats.cli.session import session
from ats.jsontext import dumps
from ats.models import Event, EventType, iso

watch_app = typer.Typer()
_KNOWN = [e.value for e in EventType]


def _list(values: list[str] | None) -> list[str] | None:
    """Repeated options, each possibly comma-separated; None when not given."""
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _event_types(values: list[str] | None) -> list[str] | None:
    types = _list(values)
    for t in types or []:
        if t not in _KNOWN:
            raise typer.BadParameter(
                f"'{t}' is not an event type (expected {', '.join(_KNOWN)})", param_hint="--events"
            )
    return types


def json_line(event: Event) -> bytes:
    """The ``watch -f json`` record (SPEC §5): flat, one line."""
    task = event.task
    record: dict[str, Any] = {
        "event": event.type.value,
        "task_id": event.task_id,
        "id": task.id,
        "title": task.title,
        "status": task.status.value,
        "channel": event.channel,
        "task_type": event.task_type,
        "priority": task.priority,
        "payload": task.payload,
        "actor_name": event.actor.name,
        "event_id": event.id,
        "timestamp": iso(event.created_at),
    }
    return dumps(record) + b"\n"


def table_line(event: Event, tty: bool) -> str:
    text = f"Task #{event.task_id}: {event.task.title}"
    if not tty:
        return text + "\n"
    local = datetime.fromtimestamp(event.created_at / 1000, tz=UTC).astimezone()
    return f"{local:%H:%M:%S} {event.type.value:<19} {text}\n"


@watch_app.command(rich_help_panel="Tasks")
def watch(
    ctx: typer.Context,
    channel: list[str] | None = typer.Option(
        None, "--channel", "-c", help="Only these channels (repeat or comma-separate)."
    ),
    type: list[str] | None = typer.Option(
        None, "--type", "-t", help="Only these task types (repeat or comma-separate)."
    ),
    events: list[str] | None = typer.Option(
        None, "--events", "-e", help="Only these event types, e.g. task.created,task.completed."
    ),
    since: int | None = typer.Option(
        None, "--since", min=0, help="Replay the events after this event id first."
    ),
) -> None:
    """Print task events as they happen; reconnects and resumes by itself."""
    s = session(ctx)
    wanted = _event_types(events)
    channels, task_types = _list(channel), _list(type)
    tty = sys.stdout.isatty()
    follow(
        s,
        lambda client, connected, disconnected: client.events(
            channels=channels,
            task_types=task_types,
            event_types=wanted,
            since=since,
            on_connect=connected,
            on_disconnect=disconnected,
            on_gap=lambda gap: render.warning(str(gap)),
        ),
        (lambda e: json_line(e).decode()) if s.json else (lambda e: table_line(e, tty)),
        following=f"Watching events at {redact.url(s.settings.url)} (Ctrl-C to stop)",
        resumed=lambda after: f"Reconnected; resuming after event {after}",
    )
