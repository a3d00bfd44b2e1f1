"""``ats feed publish | list | get | tail | stats | clear | export | import`` (SPEC §7).

``tail`` follows the feed live like ``ats watch``: it resumes after the last event it printed when
the connection drops, notices go to stderr, ``-f json`` prints one compact JSON object per line,
Ctrl-C or SIGTERM exits 0. ``export`` / ``import`` read and write the reference's ``feed.jsonl``
(one event per line); ``-`` means stdout / stdin.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer

from ats import redact
from ats.cli import render
from ats.cli.follow import follow
from ats.cli.parsing import SINCE_FORMS, parse_json_object, parse_since
from ats.cli.session import Session, session
from ats.errors import AtsError, InvalidInput
from ats.jsontext import dumps_text
from ats.models import FeedEvent, FeedType

feed_app = typer.Typer(help="The activity feed: what agents are doing.", no_args_is_help=True)

FEED_TYPES = ", ".join(t.value for t in FeedType)
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.IGNORECASE)

AGENT = typer.Option(None, "--agent", "-a", help="Only this agent's events.")
TYPE = typer.Option(None, "--type", "-t", help=f"Only this type: {FEED_TYPES}.")
SINCE = typer.Option(
    None, "--since", "-s", help="After this event id, or a time: 30m, 4h, today, ISO-8601…"
)


def feed_type(value: str, hint: str) -> FeedType:
    try:
        return FeedType(value.strip().lower())
    except ValueError:
        message = f"'{value}' is not a feed event type (expected one of {FEED_TYPES})"
        raise typer.BadParameter(message, param_hint=hint) from None


def feed_since(value: str) -> str:
    """An event id (a ULID, as the server writes it) or any ``--since`` time → the API's since."""
    text = value.strip()
    if _ULID.fullmatch(text):
        return text.upper()
    try:
        return parse_since(text, hint="--since")
    except typer.BadParameter:
        message = f"'{value}': expected an event id or {SINCE_FORMS}"
        raise typer.BadParameter(message, param_hint="--since") from None


def _type_filter(value: str | None) -> FeedType | None:
    return feed_type(value, "--type") if value is not None else None


@feed_app.command()
def publish(
    ctx: typer.Context,
    agent: str = typer.Argument(..., metavar="AGENT", help="Who is speaking, e.g. claude-main."),
    type: str = typer.Argument(..., metavar="TYPE", help=FEED_TYPES),
    summary: str = typer.Argument(..., metavar="SUMMARY", help="One line."),
    detail: str | None = typer.Option(None, "--detail", "-d", help="More text."),
    metadata: str | None = typer.Option(None, "--metadata", "-m", help="A JSON object."),
) -> None:
    """Publish an event to the feed."""
    s = session(ctx)
    kind = feed_type(type, "TYPE")
    meta = parse_json_object(metadata, "--metadata") if metadata is not None else None
    reply = s.call(lambda c: c.feed_publish(agent, kind, summary, detail=detail, metadata=meta))
    s.show(reply.raw, lambda: render.feed_published(reply.value))


@feed_app.command("list")
def list_(
    ctx: typer.Context,
    agent: str | None = AGENT,
    type: str | None = TYPE,
    since: str | None = SINCE,
    limit: int | None = typer.Option(
        None, "--limit", "-n", min=1, max=1000, help="How many (default 50)."
    ),
) -> None:
    """List events, oldest first: the latest ones, or the first ones after --since."""
    s = session(ctx)
    kind = _type_filter(type)
    after = feed_since(since) if since is not None else None
    reply = s.call(lambda c: c.feed_list(agent=agent, type=kind, since=after, limit=limit))
    s.show(reply.raw, lambda: render.feed_table(reply.value))


@feed_app.command()
def get(ctx: typer.Context, event_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Show one event."""
    s = session(ctx)
    reply = s.call(lambda c: c.feed_get(event_id.strip()))
    s.show(reply.raw, lambda: render.feed_detail(reply.value))


@feed_app.command()
def stats(ctx: typer.Context) -> None:
    """Counts by agent and type, and each agent's latest event."""
    s = session(ctx)
    reply = s.call(lambda c: c.feed_stats())
    s.show(reply.value, lambda: render.feed_stats(reply.value))


def _where(s: Session) -> str:
    scope = s.settings.scope
    return f"project {scope[0]}/{scope[1]}" if scope else redact.url(s.settings.url)


@feed_app.command()
def clear(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Delete every event of the feed."""
    s = session(ctx)
    if not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter("this deletes every feed event; add --yes to confirm")
        typer.confirm(f"Delete every activity-feed event at {_where(s)}?", abort=True, err=True)
    reply = s.call(lambda c: c.feed_clear())
    s.show(reply.raw, lambda: render.line(f"Cleared the activity feed at {_where(s)}"))


@feed_app.command()
def export(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="Where to write; - for stdout."),
) -> None:
    """Write the whole feed as JSON Lines (feed.jsonl), oldest first."""
    s = session(ctx)
    data = s.call(lambda c: c.feed_export()).value
    if file == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        Path(file).write_bytes(data)
    except OSError as exc:
        raise AtsError(f"cannot write {file}: {exc.strerror or exc}") from None
    count = sum(1 for line in data.splitlines() if line.strip())
    s.show(
        {"exported": count, "file": file},
        lambda: render.line(f"Exported {count} events to {file}"),
    )


@feed_app.command("import")
def import_(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="A feed.jsonl; - for stdin."),
) -> None:
    """Add the events of a JSON Lines file (all or nothing; known ids are skipped)."""
    s = session(ctx)
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        message = f"cannot read {file}: {exc.strerror or exc}"
        raise typer.BadParameter(message, param_hint="FILE") from None
    try:
        reply = s.call(lambda c: c.feed_import(data))
    except InvalidInput as error:
        # The server names the line ("line 7: …"); say which file it is in.
        raise InvalidInput(f"{file}: {error.message}", **error.details) from None
    s.show(
        {"imported": reply.value},
        lambda: render.line(f"Imported {reply.value} events from {file}"),
    )


def json_line(event: FeedEvent) -> str:
    return dumps_text(event.to_json()) + "\n"


def table_line(event: FeedEvent) -> str:
    when = render.clock(event.timestamp)
    return f"{when}  {event.type.value:<14}  {event.agent}: {event.summary}\n"


@feed_app.command()
def tail(
    ctx: typer.Context,
    agent: str | None = AGENT,
    type: str | None = TYPE,
    since: str | None = SINCE,
) -> None:
    """Print events as they are published; reconnects and resumes by itself."""
    s = session(ctx)
    kind = _type_filter(type)
    after = feed_since(since) if since is not None else None
    follow(
        s,
        lambda client, connected, disconnected: client.feed_stream(
            agent=agent,
            type=kind,
            since=after,
            on_connect=connected,
            on_disconnect=disconnected,
        ),
        json_line if s.json else table_line,
        following=f"Following the activity feed at {redact.url(s.settings.url)} (Ctrl-C to stop)",
        resumed=lambda last: f"Reconnected; resuming after {last}" if last else "Reconnected",
    )
