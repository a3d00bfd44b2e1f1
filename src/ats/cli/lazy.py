"""The root command loads each command's module only when that command runs.

``ats tag find`` over 10,000 files should cost little more than the scan; importing every
command (the HTTP client, rich, pydantic, the dispatcher) would add ~0.3 s to each call. The table
below names, for each top-level command, the module and the typer app that define it: ``group``
entries are sub-apps registered under that name (``ats feed …``); the others are commands a
module's app contributes at the top level (``ats create``). ``--help`` lists every command and so
imports them all; a test keeps the table in step with what the modules define.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup


@dataclass(frozen=True, slots=True)
class Entry:
    module: str
    app: str  # the typer.Typer attribute in that module
    panel: str  # the --help section
    group: bool = False  # True: the app is the command; False: the app defines the command


def _top(module: str, app: str, panel: str, *names: str) -> dict[str, Entry]:
    return {name: Entry(module, app, panel) for name in names}


# Order is the order of --help.
COMMANDS: dict[str, Entry] = {
    **_top("ats.cli.tasks", "tasks_app", "Tasks", "create", "list", "get", "update", "delete"),
    "message": Entry("ats.cli.messages", "message_app", "Tasks", group=True),
    "task": Entry("ats.cli.crypto_tasks", "task_app", "Tasks", group=True),
    **_top(
        "ats.cli.lifecycle",
        "lifecycle_app",
        "Working on tasks",
        "claim",
        "complete",
        "cancel",
        "fail",
        "reject",
        "reopen",
        "release",
    ),
    **_top("ats.cli.watch", "watch_app", "Tasks", "watch"),
    "feed": Entry("ats.cli.feed", "feed_app", "Feed", group=True),
    "tag": Entry("ats.cli.tag", "tag_app", "Tags", group=True),
    "delegate": Entry("ats.cli.delegate", "delegate_app", "Tags", group=True),
    "project": Entry("ats.cli.projects", "project_app", "Projects", group=True),
    "dispatch": Entry("ats.cli.dispatch", "dispatch_app", "Dispatcher", group=True),
    "keys": Entry("ats.cli.keys", "keys_app", "Dispatcher", group=True),
    **_top("ats.cli.service", "service_app", "Server", "health", "stats", "version", "serve"),
    "db": Entry("ats.cli.service", "db_app", "Server", group=True),
}


def load(name: str) -> Any:
    """The click command for ``name``, importing its module; None if there is none."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    app = getattr(importlib.import_module(entry.module), entry.app)
    group = typer.main.get_group(app)
    if entry.group:
        command: Any = group
        command.name = name
    else:
        command = group.commands.get(name)
        if command is None:
            return None
    command.rich_help_panel = entry.panel
    return command


class LazyGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(n for n in self.commands if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return self.resolve(cmd_name)

    def resolve(self, name: str) -> Any:
        command = self.commands.get(name)
        if command is None:
            command = load(name)
            if command is not None:
                self.commands[name] = command
        return command
