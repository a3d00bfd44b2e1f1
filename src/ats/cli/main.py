"""Entry point: hoist global options, run the typer app, map errors to exit codes.

Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 cannot reach the server.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from ats.cli.app import app
from ats.cli.argv import hoist_global_options
from ats.cli.crypto_tasks import task_app
from ats.cli.dispatch import dispatch_app
from ats.cli.feed import feed_app
from ats.cli.keys import keys_app
from ats.cli.lifecycle import lifecycle_app
from ats.cli.messages import message_app
from ats.cli.projects import project_app
from ats.cli.service import db_app, service_app
from ats.cli.tasks import tasks_app
from ats.cli.watch import watch_app
from ats.errors import AtsError, Conflict, NotFound, Unavailable

# Registration order is the order of --help.
app.add_typer(tasks_app)
app.add_typer(message_app, name="message", rich_help_panel="Tasks")
app.add_typer(task_app, name="task", rich_help_panel="Tasks")
app.add_typer(lifecycle_app)
app.add_typer(watch_app)
app.add_typer(feed_app, name="feed", rich_help_panel="Feed")
app.add_typer(project_app, name="project", rich_help_panel="Projects")
app.add_typer(dispatch_app, name="dispatch", rich_help_panel="Dispatcher")
app.add_typer(service_app)
app.add_typer(db_app, name="db", rich_help_panel="Server")
app.add_typer(keys_app, name="keys", rich_help_panel="Dispatcher")

EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_UNAVAILABLE = 1, 2, 3, 4, 5


def exit_code(error: AtsError) -> int:
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, Conflict):
        return EXIT_CONFLICT
    if isinstance(error, Unavailable):
        return EXIT_UNAVAILABLE
    return EXIT_ERROR


def main(argv: list[str] | None = None) -> int:
    """Run ``ats`` with ``argv`` (default: sys.argv[1:]) and return the exit code."""
    root = typer.main.get_command(app)
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv), root)
    try:
        root.main(args, prog_name="ats", standalone_mode=True)
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    except AtsError as error:
        print(f"Error: {error.message}", file=sys.stderr)
        return exit_code(error)
    return 0


def run() -> NoReturn:
    sys.exit(main())
