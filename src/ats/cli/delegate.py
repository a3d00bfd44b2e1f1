"""``ats delegate``: claim, review, watch, publish and sync tagged work in Markdown files (SPEC §8).

The logic lives in ``ats.tags`` (delegate, review, watch, publish); this module parses flags,
asks the person at the terminal and prints what happened. PATHS may be anywhere; the commands
only edit files under the PATHS they scanned (a symlink out of them is not followed for an edit).
Bad input — an invalid noun or tag, a missing path, a malformed dispatch table, no terminal to
ask — is one line on stderr and exit code 2, before any file changes. A claim that another worker
won is an outcome, not an error (exit 0); a route that fails to start or exits non-zero makes
``claim`` exit 1 after the summary.
"""

from __future__ import annotations

import getpass
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from ats.cli import delegate_terminal as term
from ats.cli.session import print_json, session
from ats.config import DEFAULT_ACTOR
from ats.errors import InvalidInput
from ats.tags import publish as bridge
from ats.tags.claims import parse_duration
from ats.tags.delegate import (
    check_paths,
    claim,
    collect,
    dispatchable_only,
    everything,
    group,
    parse_noun,
)
from ats.tags.find import default_paths
from ats.tags.review import offers
from ats.tags.route import execute, plan
from ats.tags.table import load_table
from ats.tags.watch import Daemon

EXIT_USAGE = 2

delegate_app = typer.Typer(
    help="Delegate work with tags in Markdown files: claim, review, watch, publish, sync.",
    no_args_is_help=True,
)

PATHS = typer.Argument(None, help="Files or directories (default: sessions/ if present, else .).")
TABLE = typer.Option(None, "--table", help="Dispatch table (default: .ats/delegation.toml).")
BY = typer.Option(None, "--by", help="Who claims (default: --actor-id / ATS_ACTOR_ID, else $USER).")


@contextmanager
def _usage() -> Iterator[None]:
    """Bad input of any kind → one line, exit 2."""
    try:
        yield
    except InvalidInput as exc:
        print(f"ats delegate: {exc.message}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None


def _paths(paths: list[Path] | None) -> list[Path]:
    chosen = paths or default_paths(Path("."))
    check_paths(chosen)
    return chosen


def _need_terminal(yes: bool, flag: str = "--yes") -> None:
    if not yes and not sys.stdin.isatty():
        raise InvalidInput(f"no terminal to ask: use {flag}")


def _who(ctx: typer.Context, by: str | None) -> str:
    if by:
        return by
    actor = session(ctx).settings.actor
    if actor != DEFAULT_ACTOR:
        return actor.id
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this container: still say something
        return "unknown"


def _split_target(target: str | None, paths: list[Path] | None) -> tuple[str | None, list[Path]]:
    """``claim sessions/`` means a path: a first argument that exists on disk is one."""
    rest = list(paths or [])
    if target is not None and not target.startswith("#") and Path(target).exists():
        return None, [Path(target), *rest]
    return target, rest


@delegate_app.command("claim")
def claim_command(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, help="NOUN or #delegated-NOUN (default: all)."),
    paths: list[Path] | None = PATHS,
    yes: bool = typer.Option(False, "--yes", "-y", help="Claim everything, in table order."),
    no_route: bool = typer.Option(False, "--no-route", help="Only claim; run nothing."),
    by: str | None = BY,
    table_file: Path | None = TABLE,
) -> None:
    """Claim #delegated-NOUN items: ask per group, swap to #claimed-NOUN, route them."""
    with _usage():
        target, rest = _split_target(target, paths)
        nouns = {parse_noun(target)} if target else None
        chosen = _paths(rest)
        table = load_table(table_file)
        _need_terminal(yes)
        who = _who(ctx, by)
        items = [i for i in collect("delegated", chosen, nouns) if i.mark("task") is None]
        if not items:
            typer.echo("Nothing delegated" + (f" for {target}." if target else "."))
            return
        outcome = claim(group(items, table), everything if yes else term.group, who)
        results = []
        for noun, claimed in outcome.claimed.items():
            route = table.route(noun)
            runs = [] if no_route else plan(route, [i.path for i in claimed])
            term.routing(route, len(claimed), runs, no_route)
            results.extend(execute(runs))
    term.summary(outcome, results)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


@delegate_app.command("review")
def review_command(
    paths: list[Path] | None = PATHS,
    stale: str | None = typer.Option(
        None, "--stale", help="Also offer back #claimed-X claimed longer ago than this (2h)."
    ),
    next_after: str = typer.Option("24h", "--next-after", help="When a #next-X is stale."),
    approve_all: bool = typer.Option(
        False, "--approve-all", help="No questions: approve, re-route and release everything."
    ),
) -> None:
    """The requester's side: approve #needs-X, park as #next-X, defer, dismiss; take back stale."""
    with _usage():
        chosen = _paths(paths)
        stale_after = parse_duration(stale) if stale else None
        after = parse_duration(next_after)
        _need_terminal(approve_all, "--approve-all")
        found = offers(chosen, datetime.now(UTC), stale_after, after)
        if not found:
            typer.echo("Nothing to review.")
            return
        term.review(found, approve_all)


@delegate_app.command("watch")
def watch_command(
    ctx: typer.Context,
    paths: list[Path] | None = PATHS,
    tags: list[str] | None = typer.Option(
        None, "--tags", help="Only these nouns or #delegated-NOUN tags (repeatable, or a,b)."
    ),
    quiet_period: float = typer.Option(
        3.0, "--quiet-period", min=0.05, help="Seconds without changes that end a batch."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Claim dispatchable items unasked (others are skipped)."
    ),
    no_route: bool = typer.Option(False, "--no-route", help="Only claim; run nothing."),
    poll: bool = typer.Option(False, "--poll", help="Poll instead of inotify."),
    by: str | None = BY,
    table_file: Path | None = TABLE,
) -> None:
    """Watch the tree; after each burst of changes, run the claim step over the changed files."""
    with _usage():
        chosen = _paths(paths)
        nouns = {parse_noun(t.strip()) for v in tags or [] for t in v.split(",") if t.strip()}
        table = load_table(table_file)
        _need_terminal(yes)
        choose = dispatchable_only if yes else term.group
        daemon = Daemon(table, choose, _who(ctx, by), nouns or None, route=not no_route)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()  # unattended: the batch under way finishes, then the daemon stops
        if not yes:
            raise KeyboardInterrupt  # a person may sit at a prompt: end it now

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    # watchfiles would log a warning when a signal lands while it waits; we say "stopped" anyway.
    logging.getLogger("watchfiles").setLevel(logging.ERROR)
    try:
        with _usage():
            daemon.serve(chosen, quiet_period, stop, term.log, poll=poll)
    except (KeyboardInterrupt, typer.Abort):
        term.log(f"stopped after {daemon.batches} batch(es)")


@delegate_app.command("publish")
def publish_command(
    ctx: typer.Context,
    paths: list[Path] | None = PATHS,
    channel_prefix: str = typer.Option(bridge.PREFIX, "--channel-prefix", help="Channel prefix."),
) -> None:
    """Make each #delegated-X item a task on channel delegated-X (idempotent)."""
    sess = session(ctx)
    with _usage():
        chosen = _paths(paths)
        reply = sess.call(lambda client: bridge.publish(client, chosen, prefix=channel_prefix))
    published = reply.value
    if sess.json:
        print_json([term.published_json(p) for p in published])
    else:
        term.published(published)


@delegate_app.command("sync")
def sync_command(
    ctx: typer.Context,
    paths: list[Path] | None = PATHS,
    channel_prefix: str = typer.Option(bridge.PREFIX, "--channel-prefix", help="Channel prefix."),
) -> None:
    """Swap published items whose task completed to #done-X; report failed ones."""
    sess = session(ctx)
    with _usage():
        chosen = _paths(paths)
        report = sess.call(lambda client: bridge.sync(client, chosen, prefix=channel_prefix)).value
    if sess.json:
        print_json(term.sync_json(report))
    else:
        term.synced(report)
