"""``ats message add | list``: the task's thread."""

from __future__ import annotations

from enum import StrEnum

import typer

from ats.cli import render
from ats.cli.parsing import parse_json
from ats.cli.session import session

message_app = typer.Typer(help="Talk on a task's message thread.", no_args_is_help=True)


class PartType(StrEnum):
    TEXT = "text"
    DATA = "data"


@message_app.command("add")
def add(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., metavar="ID"),
    text: str = typer.Argument(..., help="The message (JSON with --type data)."),
    type: PartType = typer.Option(PartType.TEXT, "--type", "-t"),
) -> None:
    """Post a message on task ID."""
    s = session(ctx)
    content = parse_json(text, "the message") if type is PartType.DATA else text
    parts = [{"type": type.value, "content": content}]
    reply = s.call(lambda c: c.add_message(task_id, parts=parts))
    s.show(reply.raw, lambda: render.message_added(reply.value))


@message_app.command("list")
def list_(ctx: typer.Context, task_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Show the thread of task ID, oldest first."""
    s = session(ctx)
    reply = s.call(lambda c: c.list_messages(task_id))
    s.show(reply.raw["messages"], lambda: render.message_list(reply.value))
