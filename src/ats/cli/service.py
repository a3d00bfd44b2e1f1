"""``ats health | stats | version | serve | db create | upgrade | stats | vacuum``.

``serve`` and ``db create|upgrade`` are the only places the CLI reaches into the server side; they
import it lazily so every other command starts fast and works with only the client installed.
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
    help="sqlite:///path.db or postgresql://… (env ATS_DATABASE_URL; default ./.ats/ats.db)",
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
    events_retention: str = typer.Option(
        "30d",
        "--events-retention",
        envvar="ATS_EVENTS_RETENTION",
        help="How long the event log keeps events: 30d, 12h, 90s or seconds (0: forever). "
        "Readers asking for trimmed events get 410 Gone.",
    ),
    feed_mirror: bool = typer.Option(
        True,
        "--feed-mirror/--no-feed-mirror",
        envvar="ATS_FEED_MIRROR",
        help="Copy task claims, completions and failures into the activity feed.",
    ),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        envvar="ATS_ALLOWED_HOSTS",
        help="A public name this server answers to (Host header), besides IP addresses, "
        "localhost and this machine's name; '*.example.com' and '*' work. Repeatable.",
    ),
    cors_origin: list[str] = typer.Option(
        [],
        "--cors-origin",
        envvar="ATS_CORS_ORIGINS",
        help="A web origin (https://app.example.com) allowed to call this server from a "
        "browser; others are refused. Repeatable.",
    ),
    # Defaults as in ats.server.protocol, which this module does not import (CLI start-up time).
    header_timeout: float = typer.Option(
        10.0,
        "--header-timeout",
        min=0.1,
        envvar="ATS_HEADER_TIMEOUT",
        help="Seconds a client has to send a request's headers; slower connections are closed.",
    ),
    max_connections: int = typer.Option(
        2048,
        "--max-connections",
        min=1,
        envvar="ATS_MAX_CONNECTIONS",
        help="Open connections per server process (kept below the open-file limit). At the cap "
        "a new connection replaces the oldest one still sending its headers, else gets 503.",
    ),
) -> None:
    """Run the ATS server (REST, WebSocket, SSE, activity feed)."""
    from ats.durations import parse_duration
    from ats.server.app import names
    from ats.server.runner import serve as run_server

    run_server(
        host=host,
        port=port,
        database=database,
        workers=workers,
        reaper_interval=reaper_interval,
        feed_keep=feed_retention,
        feed_mirror=feed_mirror,
        allowed_hosts=names(" ".join(allowed_host)),
        cors_origins=names(" ".join(cors_origin)),
        header_timeout=header_timeout,
        max_connections=max_connections,
        events_retention=parse_duration(events_retention, "--events-retention"),
    )


@db_app.command("create")
def create(ctx: typer.Context, database: str | None = DATABASE) -> None:
    """Create the database (PostgreSQL: through the server's postgres database) and migrate it.

    A database that already exists is fine: it is only migrated (exit 0).
    """
    from ats import redact
    from ats.store import create_database, resolve_url

    url = resolve_url(database)
    created, applied = run_async(create_database(url))
    shown = redact.url(url)  # no password on screen
    if session(ctx).json:
        print_json({"database": shown, "created": created, "applied": applied})
        return
    render.line(f"created database {shown}" if created else f"database {shown} already exists")
    for name in applied:
        render.line(f"applied {name}")


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


@db_app.command("stats")
def db_stats(ctx: typer.Context, database: str | None = DATABASE) -> None:
    """Rows and bytes per table and per index, the database's size and free space.

    Reads the database directly (SQLite: every page of the file, through dbstat). PostgreSQL's
    row counts are the statistics' estimates; dead rows are what VACUUM has yet to reclaim.
    """
    from ats.store import storage_stats

    document = run_async(storage_stats(database))
    if session(ctx).json:
        print_json(document)
    else:
        render.storage(document)


@db_app.command("vacuum")
def db_vacuum(
    ctx: typer.Context,
    database: str | None = DATABASE,
    full: bool = typer.Option(
        False, "--full", help="PostgreSQL: VACUUM FULL (rewrites and locks each table in turn)."
    ),
) -> None:
    """Reclaim space now. SQLite: rewrite the file (VACUUM), turning on incremental
    auto-vacuum for a file made before it; writers wait meanwhile. PostgreSQL: VACUUM ANALYZE."""
    from ats.store import vacuum_database

    sizes = run_async(vacuum_database(database, full=full))
    if session(ctx).json:
        print_json(sizes)
    else:
        before, after = sizes["bytes_before"], sizes["bytes_after"]
        render.line(f"vacuumed: {render.size(before)} -> {render.size(after)}")
