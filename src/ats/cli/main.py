"""Entry point: hoist global options, run the typer app, map errors to exit codes.

Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 cannot reach the server.
Gone (410: events no longer kept) is 1 — ``ats watch`` never ends on it: it warns and goes on.

typer is imported inside :func:`main`, not here: ``run`` first offers the command line to the
stdlib-only fast path of ``ats tag find`` (cli/tag_find.py), which answers before typer and
pydantic would have been imported.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from ats.errors import AtsError, Conflict, NotFound, Unavailable

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
    import typer

    from ats.cli.app import app
    from ats.cli.argv import hoist_global_options

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
    from ats.cli.tag_find import fast_main

    code = fast_main(sys.argv[1:])
    sys.exit(main() if code is None else code)
