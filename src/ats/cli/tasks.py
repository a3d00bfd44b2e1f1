"""``ats create | list | get | update | delete``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ats.cli import render
from ats.cli.crypto_tasks import seal_for_create
from ats.cli.keys import KEYRING
from ats.cli.pages import stream_pages
from ats.cli.parsing import (
    parse_ids,
    parse_json_object,
    parse_priority_filter,
    parse_since,
)
from ats.cli.session import session
from ats.client.async_client import TaskFilters
from ats.models import Status

SORT_FIELDS = ("created_at", "updated_at", "priority", "title")
# What the server does without sort_dir; -r asks for the other direction.
DEFAULT_SORT_DIR = "desc"

PANEL = "Tasks"
tasks_app = typer.Typer()


def _status(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return Status(value.strip().lower()).value
    except ValueError:
        valid = ", ".join(s.value for s in Status)
        raise typer.BadParameter(
            f"'{value}' is not one of {valid}", param_hint="--status"
        ) from None


PRIORITY = typer.Option(None, "--priority", "-p", min=1, max=10, help="1-10, higher is sooner.")


@tasks_app.command(rich_help_panel=PANEL)
def create(
    ctx: typer.Context,
    title: str = typer.Argument(..., help="What needs doing."),
    type: str | None = typer.Option(None, "--type", "-t", help="Task type (default: task)."),
    channel: str | None = typer.Option(None, "--channel", "-c", help="(env ATS_CHANNEL)"),
    priority: int | None = PRIORITY,
    description: str | None = typer.Option(None, "--description", "-d"),
    payload: str | None = typer.Option(None, "--payload", help="A JSON object."),
    depends_on: str | None = typer.Option(None, "--depends-on", help="Task ids, e.g. 1,2."),
    max_attempts: int | None = typer.Option(None, "--max-attempts", min=1),
    encrypt_for: str | None = typer.Option(
        None, "--encrypt-for", help="Seal title, description, payload to this key (or name)."
    ),
    sender: str | None = typer.Option(None, "--sender", help="Our name in their keyring."),
    keyring: Path | None = KEYRING,
) -> None:
    """Create a task (sealed for one dispatcher with --encrypt-for)."""
    s = session(ctx)
    body = parse_json_object(payload, "--payload") if payload is not None else None
    deps = parse_ids(depends_on) if depends_on is not None else None
    title, description, body = seal_for_create(
        title, description, body, encrypt_for=encrypt_for, sender=sender, keyring=keyring
    )
    reply = s.call(
        lambda c: c.create_task(
            title,
            description=description,
            type=type,
            channel=channel or s.settings.channel,
            priority=priority,
            payload=body,
            depends_on=deps,
            max_attempts=max_attempts,
        )
    )
    s.show(reply.raw, lambda: render.task_done("Created", reply.value))


@tasks_app.command("list", rich_help_panel=PANEL)
def list_(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", "-a", help="Every status, not only pending."),
    status: str | None = typer.Option(None, "--status", "-s"),
    channel: str | None = typer.Option(None, "--channel", "-c"),
    type: str | None = typer.Option(None, "--type", "-t"),
    assignee: str | None = typer.Option(None, "--assignee", help="Assignee actor id."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, max=1000),
    offset: int | None = typer.Option(None, "--offset", min=0),
    since: str | None = typer.Option(None, "--since", help="30m, 4h, 1d, 2w, today, a date."),
    updated_since: str | None = typer.Option(None, "--updated-since"),
    priority: str | None = typer.Option(None, "--priority", "-p", help="8, 7+ or 5-8."),
    search: str | None = typer.Option(None, "--search", "-q", help="In title and description."),
    sort: str | None = typer.Option(None, "--sort", help=", ".join(SORT_FIELDS)),
    reverse: bool = typer.Option(False, "--reverse", "-r", help="Reverse the order."),
    all_pages: bool = typer.Option(
        False, "--all-pages", help="Every matching task, page after page (--limit: page size)."
    ),
) -> None:
    """List tasks: pending ones unless --all or --status."""
    s = session(ctx)
    wanted = _status(status) or (None if all_ else Status.PENDING.value)
    if sort is not None and sort not in SORT_FIELDS:
        raise typer.BadParameter(f"expected one of {', '.join(SORT_FIELDS)}", param_hint="--sort")
    prio = parse_priority_filter(priority, hint="--priority") if priority is not None else None
    created_after = parse_since(since, hint="--since") if since is not None else None
    updated_after = (
        parse_since(updated_since, hint="--updated-since") if updated_since is not None else None
    )
    sort_dir = ("asc" if DEFAULT_SORT_DIR == "desc" else "desc") if reverse else None
    filters = TaskFilters(
        status=wanted,
        type=type,
        channel=channel,
        assignee_id=assignee,
        priority=prio.priority if prio else None,
        min_priority=prio.min_priority if prio else None,
        max_priority=prio.max_priority if prio else None,
        search=search,
        created_after=created_after,
        updated_after=updated_after,
        sort_by=sort,
        sort_dir=sort_dir,
        limit=limit,
    )
    if all_pages:
        if offset:
            raise typer.BadParameter("not with --all-pages", param_hint="--offset")
        stream_pages(s, filters)
        return
    reply = s.call(lambda c: c.list_tasks(**filters, offset=offset))
    page = reply.value
    s.show(reply.raw["tasks"], lambda: render.task_table(page.tasks, page.count, offset or 0))


@tasks_app.command(rich_help_panel=PANEL)
def get(ctx: typer.Context, task_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Show one task with its messages."""
    s = session(ctx)
    reply = s.call(lambda c: c.get_task(task_id))
    s.show(reply.raw, lambda: render.task_detail(reply.value))


@tasks_app.command(rich_help_panel=PANEL)
def update(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., metavar="ID"),
    title: str | None = typer.Option(None, "--title"),
    description: str | None = typer.Option(None, "--description", "-d"),
    priority: int | None = PRIORITY,
    status: str | None = typer.Option(None, "--status", "-s"),
    type: str | None = typer.Option(None, "--type", "-t"),
    channel: str | None = typer.Option(None, "--channel", "-c"),
    payload: str | None = typer.Option(None, "--payload", help="A JSON object (replaces)."),
) -> None:
    """Change fields of a task (any status may be set)."""
    s = session(ctx)
    body = parse_json_object(payload, "--payload") if payload is not None else None
    new_status = _status(status)
    if all(v is None for v in (title, description, priority, new_status, type, channel, body)):
        raise typer.BadParameter("nothing to change: give at least one option")
    reply = s.call(
        lambda c: c.update_task(
            task_id,
            title=title,
            description=description,
            priority=priority,
            status=new_status,
            type=type,
            channel=channel,
            payload=body,
        )
    )
    s.show(reply.raw, lambda: render.task_done("Updated", reply.value))


@tasks_app.command(rich_help_panel=PANEL)
def delete(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., metavar="ID"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Delete a task for good (asks first when stdin is a terminal)."""
    s = session(ctx)
    # Only a person at a terminal is asked. Scripts and daemons have always run `ats delete ID`
    # unasked (the reference CLI never asked), so without a terminal it deletes as before —
    # unlike `feed clear`, which is new and wipes everything, so it demands --yes.
    if not yes and sys.stdin.isatty():
        task = s.call(lambda c: c.get_task(task_id)).value
        typer.confirm(f"Delete task #{task_id} ({task.title!r}) for good?", abort=True, err=True)
    reply = s.call(lambda c: c.delete_task(task_id))
    s.show(reply.raw, lambda: render.line(f"Deleted task #{task_id}"))
