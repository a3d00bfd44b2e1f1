"""The app factory: wires the store, the service, the routes and the reaper together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator, Sequence

from fastapi import Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware

from ats import __version__
from ats.durations import parse_duration
from ats.server import docs, errors, openapi
from ats.server.deps import project_path
from ats.server.frames import KeepRawSend
from ats.server.guard import BrowserGuard, HostPolicy
from ats.server.limits import DEFAULT_MAX_BODY, BodyLimit
from ats.server.routes import events, feed, health, projects, tasks, ws
from ats.service.bus import EventBus, FeedBus
from ats.service.feed import DEFAULT_KEEP, FeedService
from ats.service.reaper import reap_forever
from ats.service.retention import DEFAULT_RETENTION_S, trim_forever
from ats.service.tasks import TaskService
from ats.store import open_store, resolve_url

SCOPED = "/orgs/{org}/projects/{project}"


def create_app(
    database: str | None = None,
    *,
    reaper_interval: float = 1.0,
    migrate: bool = True,
    max_body: int = DEFAULT_MAX_BODY,
    pool_size: int = 20,
    feed_keep: int = DEFAULT_KEEP,
    feed_mirror: bool = True,
    allowed_hosts: Sequence[str] = (),
    cors_origins: Sequence[str] = (),
    events_retention: float = DEFAULT_RETENTION_S,
) -> FastAPI:
    """``events_retention``: seconds the event log keeps events (0: all of them)."""
    url = resolve_url(database)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_store(url, pool_size=pool_size)
        if migrate:
            await store.upkeep.migrate()
        bus = EventBus(store)
        await bus.start()
        feed_bus = FeedBus(store)
        await feed_bus.start()
        feeds = FeedService(store, keep=feed_keep, mirror=feed_mirror, on_write=feed_bus.wake)
        feeds.start()
        app.state.bus = bus
        app.state.feed_bus = feed_bus
        app.state.feed = feeds
        app.state.service = TaskService(store, on_write=bus.wake, mirror=feeds.mirror)
        # Everything allocated so far lives as long as the process: keep the collector off it,
        # and collect young objects less often (request garbage is mostly acyclic and freed
        # by reference counting; full collections were the tail of the latency).
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        reaper = (
            asyncio.create_task(reap_forever(store, reaper_interval, bus.wake))
            if reaper_interval > 0
            else None
        )
        trimmer = (
            asyncio.create_task(trim_forever(store, events_retention), name="ats-events-trimmer")
            if events_retention > 0
            else None
        )
        try:
            yield
        finally:
            for task in (reaper, trimmer):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await feeds.stop()
            await feed_bus.stop()
            await bus.stop()
            await store.close()

    app = FastAPI(
        title="ATS — Agent Task Service",
        version=__version__,
        lifespan=lifespan,
        description="Tasks, leases, messages and events for AI agents and humans.",
        docs_url=None,  # ats.server.docs serves /docs from vendored files, not a CDN
        redoc_url=None,
        # OpenTelemetry hooks cost a few percent per request even with nothing exporting.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    # Routes are matched in order: the busy unscoped trees first, the scoped copies after.
    scoped = [Depends(project_path)]
    for router in (tasks.router, feed.router, events.router):
        app.include_router(router)
    for router in (tasks.router, feed.router, events.router):
        app.include_router(router, prefix=SCOPED, dependencies=scoped)
    app.include_router(health.router)
    app.include_router(projects.router)
    app.include_router(ws.router)
    openapi.install(app, actors=(tasks.router, feed.router, events.router))
    docs.install(app)
    app.add_middleware(
        BodyLimit, max_bytes=max_body, larger={"/feed/import": feed.MAX_IMPORT_BYTES}
    )
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=True,
        )
    app.add_middleware(BrowserGuard, hosts=HostPolicy(allowed_hosts), cors_origins=cors_origins)
    app.add_middleware(KeepRawSend)  # added last: outermost, sees the server's own send
    return app


def app_from_env() -> FastAPI:
    """Factory for worker processes (``ats serve --workers N``): settings come from the env."""
    return create_app(
        os.environ.get("ATS_DATABASE_URL"),
        reaper_interval=float(os.environ.get("ATS_REAPER_INTERVAL", "1.0")),
        migrate=False,
        feed_keep=int(os.environ.get("ATS_FEED_RETENTION", str(DEFAULT_KEEP))),
        feed_mirror=os.environ.get("ATS_FEED_MIRROR", "1") not in ("0", "false", "no"),
        allowed_hosts=names(os.environ.get("ATS_ALLOWED_HOSTS", "")),
        cors_origins=names(os.environ.get("ATS_CORS_ORIGINS", "")),
        events_retention=parse_duration(
            os.environ.get("ATS_EVENTS_RETENTION") or str(DEFAULT_RETENTION_S), "events_retention"
        ),
    )


def names(text: str) -> list[str]:
    """A list setting from the environment: separated by commas or spaces."""
    return text.replace(",", " ").split()
