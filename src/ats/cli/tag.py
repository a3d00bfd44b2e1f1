"""``ats tag find | add | remove | swap``: tags in Markdown files, without a server (SPEC §8).

FILE is any file the user may write, absolute or relative, from any working directory (the
reference's ``tag.sh`` works so, and agents call it with the paths ``tag find`` printed); the
file's permissions are the boundary. ``--root DIR`` / ``ATS_TAG_ROOT`` confines edits to one tree.

Exit codes: 0 done (and ``find`` with or without hits), 1 the tag to swap or remove is not there
(someone else claimed it), 2 bad arguments: an invalid tag, a missing file, a path outside
``--root``, a file that cannot be read or written — one line on stderr, no file changed.

Imports stay light (typer, the stdlib, ats.tags): no HTTP client. ``find`` prints through
cli/tag_find.py, which can also run it without typer at all (see its docstring).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from ats.cli.options import global_options
from ats.cli.tag_find import printable, run
from ats.errors import InvalidInput
from ats.tags import edit

T = TypeVar("T")
EXIT_GONE, EXIT_USAGE = 1, 2

tag_app = typer.Typer(
    help="Find and edit #tags in Markdown files (race-safe).", no_args_is_help=True
)
FILE = typer.Argument(..., metavar="FILE", help="The Markdown file to edit (any path).")
ROOT = typer.Option(
    None,
    "--root",
    envvar="ATS_TAG_ROOT",
    metavar="DIR",
    help="Only edit files under DIR (symlinks resolved); default: any file you may write.",
)


def _within(root: Path | None) -> list[Path] | None:
    return None if root is None else [root]


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(printable(message) + "\n")
    raise typer.Exit(code)


def _checked(operation: Callable[[], T]) -> T:
    """Run ``operation``; a refused argument becomes one line on stderr and exit 2."""
    try:
        return operation()
    except InvalidInput as error:
        _fail(f"Error: {error.message}", EXIT_USAGE)


def _say(line: str) -> None:
    sys.stdout.write(printable(line) + "\n")


@tag_app.command("find")
def find_command(
    ctx: typer.Context,
    pattern: str = typer.Argument(
        ..., metavar="PATTERN", help="A tag or glob: '#delegated-*' ('*' stays within one tag)."
    ),
    paths: list[Path] | None = typer.Argument(
        None, metavar="PATHS", help="Files or directories (default: sessions/ if any, else .)."
    ),
    tags_only: bool = typer.Option(False, "--tags-only", help="Only tags on a **Tags**: line."),
    context: bool = typer.Option(False, "--context", "-C", help="One line before and after."),
) -> None:
    """Print every real tag matching PATTERN (code and comments are mentions, not tags)."""
    as_json = global_options(ctx.find_root().obj).json
    code = run(pattern, paths or [], tags_only=tags_only, context=context, as_json=as_json)
    if code:
        raise typer.Exit(code)


@tag_app.command("add")
def add_command(
    file: str = FILE,
    tag: str = typer.Argument(..., metavar="TAG", help="The tag to add, e.g. '#needs-review'."),
    root: Path | None = ROOT,
) -> None:
    """Add TAG to FILE's **Tags**: line (created after the H1 if missing)."""
    if _checked(lambda: edit.add(file, tag, within=_within(root))):
        _say(f"{file}: + #{tag.lstrip('#')}")
    else:
        sys.stderr.write(printable(f"{file} already has #{tag.lstrip('#')}") + "\n")


@tag_app.command("remove")
def remove_command(
    file: str = FILE,
    tag: str = typer.Argument(..., metavar="TAG", help="The tag to remove."),
    root: Path | None = ROOT,
) -> None:
    """Remove TAG from FILE; exit 1 if it is not there."""
    if not _checked(lambda: edit.remove(file, tag, within=_within(root))):
        _fail(f"#{tag.lstrip('#')} is not in {file}", EXIT_GONE)
    _say(f"{file}: - #{tag.lstrip('#')}")


@tag_app.command("swap")
def swap_command(
    file: str = FILE,
    old: str = typer.Argument(..., metavar="OLD", help="The tag that must be there now."),
    new: str = typer.Argument(..., metavar="NEW", help="The tag that replaces it."),
    root: Path | None = ROOT,
) -> None:
    """Compare-and-swap OLD for NEW in FILE under a lock; exit 1 if OLD is gone."""
    if not _checked(lambda: edit.swap(file, old, new, within=_within(root))):
        _fail(f"#{old.lstrip('#')} is not in {file} (someone else claimed it?)", EXIT_GONE)
    _say(f"{file}: #{old.lstrip('#')} -> #{new.lstrip('#')}")
