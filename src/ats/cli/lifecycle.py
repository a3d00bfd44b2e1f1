"""``ats claim | complete | cancel | fail | reject | reopen | release``: moving a task along."""

from __future__ import annotations

import typer

from ats.cli import render
from ats.cli.parsing import parse_json
from ats.cli.session import session
from ats.models import DEFAULT_LEASE_MS

TASK_ID = typer.Argument(..., metavar="ID")
REASON = typer.Option(None, "--reason", help="Why; kept on the task.")
LEASE_TOKEN = typer.Option(
    None, "--lease-token", help="Refuse if this is no longer the current lease (fencing)."
)

PANEL = "Working on tasks"
lifecycle_app = typer.Typer()


@lifecycle_app.command(rich_help_panel=PANEL)
def claim(
    ctx: typer.Context,
    task_id: int | None = typer.Argument(None, metavar="ID"),
    next_: bool = typer.Option(False, "--next", help="Claim the most urgent claimable task."),
    channel: str | None = typer.Option(None, "--channel", "-c", help="With --next."),
    type: str | None = typer.Option(None, "--type", "-t", help="With --next."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, max=100, help="With --next."),
    lease: int | None = typer.Option(
        None, "--lease", min=1, help=f"Lease in ms (default {DEFAULT_LEASE_MS})."
    ),
    lease_token: int | None = LEASE_TOKEN,
) -> None:
    """Claim task ID (or renew your lease on it), or with --next the best claimable one."""
    s = session(ctx)
    if next_ == (task_id is not None):
        raise typer.BadParameter("give a task ID or --next, not both")
    if task_id is not None:
        if channel or type or limit:
            raise typer.BadParameter("--channel, --type and --limit go with --next")
        one = s.call(lambda c: c.claim(task_id, lease_ms=lease, lease_token=lease_token))
        s.show(one.raw, lambda: render.task_done("Claimed", one.value))
        return
    many = s.call(
        lambda c: c.claim_next(
            channel=channel or s.settings.channel, type=type, lease_ms=lease, limit=limit
        )
    )

    def table() -> None:
        if not many.value:
            render.notice("No claimable task.")
        for task in many.value:
            render.task_done("Claimed", task)

    s.show(many.raw["tasks"], table)


@lifecycle_app.command(rich_help_panel=PANEL)
def complete(
    ctx: typer.Context,
    task_id: int = TASK_ID,
    outputs: str | None = typer.Option(None, "--outputs", "-o", help="JSON (wrapped in [])."),
    lease_token: int | None = LEASE_TOKEN,
) -> None:
    """Mark a task completed, with optional outputs."""
    s = session(ctx)
    value = parse_json(outputs, "--outputs") if outputs is not None else None
    reply = s.call(lambda c: c.complete(task_id, value, lease_token=lease_token))
    s.show(reply.raw, lambda: render.task_done("Completed", reply.value))


@lifecycle_app.command(rich_help_panel=PANEL)
def cancel(ctx: typer.Context, task_id: int = TASK_ID) -> None:
    """Cancel a pending or in-progress task."""
    s = session(ctx)
    reply = s.call(lambda c: c.cancel(task_id))
    s.show(reply.raw, lambda: render.task_done("Cancelled", reply.value))


@lifecycle_app.command(rich_help_panel=PANEL)
def fail(
    ctx: typer.Context,
    task_id: int = TASK_ID,
    reason: str | None = REASON,
    lease_token: int | None = LEASE_TOKEN,
) -> None:
    """Mark a task failed."""
    s = session(ctx)
    reply = s.call(lambda c: c.fail(task_id, reason, lease_token=lease_token))
    s.show(reply.raw, lambda: render.task_done("Failed", reply.value))


@lifecycle_app.command(rich_help_panel=PANEL)
def reject(ctx: typer.Context, task_id: int = TASK_ID, reason: str | None = REASON) -> None:
    """Reject a task (will not be done)."""
    s = session(ctx)
    reply = s.call(lambda c: c.reject(task_id, reason))
    s.show(reply.raw, lambda: render.task_done("Rejected", reply.value))


@lifecycle_app.command(rich_help_panel=PANEL)
def reopen(ctx: typer.Context, task_id: int = TASK_ID, reason: str | None = REASON) -> None:
    """Put a finished task back to pending."""
    s = session(ctx)
    reply = s.call(lambda c: c.reopen(task_id, reason))
    s.show(reply.raw, lambda: render.task_done("Reopened", reply.value))


@lifecycle_app.command(rich_help_panel=PANEL)
def release(
    ctx: typer.Context,
    task_id: int = TASK_ID,
    delay: int | None = typer.Option(None, "--delay", min=0, help="Hide it for this many ms."),
    reason: str | None = REASON,
    lease_token: int | None = LEASE_TOKEN,
) -> None:
    """Give an in-progress task back to pending (extension)."""
    s = session(ctx)
    reply = s.call(
        lambda c: c.release(task_id, delay_ms=delay, reason=reason, lease_token=lease_token)
    )
    s.show(reply.raw, lambda: render.task_done("Released", reply.value))
