"""``ats serve``: migrate once, then run uvicorn with one or N worker processes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from ats import redact
from ats.errors import InvalidInput
from ats.server import protocol
from ats.store import resolve_url, upgrade_database


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    database: str | None = None,
    workers: int = 1,
    reaper_interval: float = 1.0,
    log_level: str = "warning",
    feed_keep: int = 10_000,
    feed_mirror: bool = True,
    allowed_hosts: Sequence[str] = (),
    cors_origins: Sequence[str] = (),
    header_timeout: float = protocol.DEFAULT_HEADER_TIMEOUT,
    max_connections: int = protocol.DEFAULT_MAX_CONNECTIONS,
    events_retention: float = 30 * 86400.0,
) -> None:
    url = resolve_url(database)
    if workers > 1 and url.startswith("sqlite"):
        raise InvalidInput("--workers > 1 needs PostgreSQL (--database postgresql://…)")
    applied = asyncio.run(upgrade_database(url))
    shown = redact.url(url)  # no password, no query values on screen
    note = f", applied {', '.join(applied)}" if applied else ""
    print(
        f"ats serve: http://{host}:{port}  database {shown}{note}  workers {workers}",
        file=sys.stderr,
        flush=True,
    )
    app: Any
    if workers > 1:
        # Worker processes re-create the app from the environment.
        os.environ["ATS_DATABASE_URL"] = url
        os.environ["ATS_REAPER_INTERVAL"] = str(reaper_interval)
        os.environ["ATS_FEED_RETENTION"] = str(feed_keep)
        os.environ["ATS_FEED_MIRROR"] = "1" if feed_mirror else "0"
        os.environ["ATS_ALLOWED_HOSTS"] = " ".join(allowed_hosts)
        os.environ["ATS_CORS_ORIGINS"] = " ".join(cors_origins)
        os.environ["ATS_EVENTS_RETENTION"] = repr(events_retention)
        app = "ats.server.app:app_from_env"
    else:
        from ats.server.app import create_app

        app = create_app(
            url,
            reaper_interval=reaper_interval,
            migrate=False,
            feed_keep=feed_keep,
            feed_mirror=feed_mirror,
            allowed_hosts=allowed_hosts,
            cors_origins=cors_origins,
            events_retention=events_retention,
        )
    # Before uvicorn starts: worker processes inherit the file limit and read the limits.
    protocol.configure(header_timeout=header_timeout, max_connections=max_connections)
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http=protocol.LimitedHttpProtocol,  # httptools + head deadline, head limits, conn cap
        ws="websockets-sansio",  # what ats.server.frames writes to directly
        # Events fan out: compressing every frame once per subscriber costs more CPU than the
        # bandwidth it saves on small JSON envelopes. Clients only send small control frames.
        ws_per_message_deflate=False,
        ws_max_size=1024 * 1024,
        timeout_graceful_shutdown=5,
    )
