"""``ats health | stats | version | serve | db upgrade``.

``serve`` and ``db upgrade`` are the only places the CLI reaches into the server side; they import
it lazily so every other command starts fast and works with only the client installed.
"""

from __future__ import annotations

import typer

from ats import __version__
from ats.cli import render
from ats.cli.session import print_json, run_async, session

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)

DATABASE = typer.Option(
    None,
    "--database",
    help="sqlite:///path.db or postgresql://… [env: ATS_DATABASE_URL; default ./.ats/ats.db]",
)

PANEL = "Server"
service_app = typer.Typer()


@service_app.command(rich_help_panel=PANEL)
def health(ctx: typer.Context) -> None:
    """Check the server answers."""
    s = session(ctx)
    reply = s.call(lambda c: c.health())
    s.show(reply.raw, lambda: render.health(reply.value, s.settings.url))


@service_app.command(rich_help_panel=PANEL)
def stats(ctx: typer.Context) -> None:
    """Task counts by status and channel, recent activity."""
    s = session(ctx)
    reply = s.call(lambda c: c.stats())
    s.show(reply.value, lambda: render.stats(reply.value))


@service_app.command(rich_help_panel=PANEL)
def version(ctx: typer.Context) -> None:
    """Show the version."""
    if session(ctx).json:
        print_json({"version": __version__})
    else:
        render.line(f"ats {__version__}")


@service_app.command(rich_help_panel=PANEL)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8765, "--port", min=0, max=65535),
    database: str | None = DATABASE,
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes."),
    reaper_interval: float = typer.Option(
        1.0, "--reaper-interval", min=0.01, help="Seconds between expired-lease sweeps."
    ),
    feed_retention: int = typer.Option(
        10_000,
        "--feed-retention",
        min=0,
        envvar="ATS_FEED_RETENTION",
        help="Activity-feed events kept per project (0: all).",
    ),
    feed_mirror: bool = typer.Option(
        True,
        "--feed-mirror/--no-feed-mirror",
        envvar="ATS_FEED_MIRROR",
        help="Copy task claims, completions and failures into the activity feed.",
    ),
) -> None:
    """Run the ATS server (REST, WebSocket, SSE, activity feed)."""
    from ats.server.runner import serve as run_server

    run_server(
        host=host,
        port=port,
        database=database,
        workers=workers,
        reaper_interval=reaper_interval,
        feed_keep=feed_retention,
        feed_mirror=feed_mirror,
    )


@db_app.command("upgrade")
def upgrade(ctx: typer.Context, database: str | None = DATABASE) -> None:
    """Apply pending database migrations."""
    from ats.store import upgrade_database

    applied = run_async(upgrade_database(database))
    if session(ctx).json:
        print_json({"applied": applied})
    elif applied:
        for name in applied:
            render.line(f"applied {name}")
    else:
        render.line("database is up to date")
