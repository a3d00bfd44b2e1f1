"""FeedService: the activity feed (SPEC §7) — publishing with group commit, reads, retention.

Every publish of one process goes through a single writer task. Requests that arrive while a
batch is being written wait for the next batch, which is written in one transaction: ids come
from one lock taken per batch instead of per event, so 8 concurrent publishers cost about what
one does. Each caller still gets its own event back only after its batch committed.

Retention (keep the newest ``keep`` events of each project) runs in the background about once a
second, so a project may hold a second's worth of events more than ``keep`` for that second.

Task lifecycle mirroring (claimed → ``task_started``, completed → ``task_completed``, failed →
``task_failed``) rides on the same writer without making the task request wait for it: the mirror
entry is written in the next batch, after the task change committed. It is a courtesy copy; a
crash between the two loses the copy, never the task change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ats.errors import NotFound, Unavailable
from ats.models import Actor, FeedEvent, FeedType, Millis, Task, now_ms
from ats.store import Store
from ats.store.base import FeedQuery, NewFeedEvent

log = logging.getLogger("ats.feed")
DEFAULT_KEEP = 10_000
BATCH = 500
TRIM_EVERY_S = 1.0

_MIRROR_VERBS = {
    FeedType.TASK_STARTED: "Started",
    FeedType.TASK_COMPLETED: "Completed",
    FeedType.TASK_FAILED: "Failed",
}


# An entry to write, and who waits for it (None: a mirror copy nobody waits for).
Pending = tuple[NewFeedEvent, "asyncio.Future[FeedEvent] | None"]


class FeedService:
    def __init__(
        self,
        store: Store,
        *,
        keep: int = DEFAULT_KEEP,
        mirror: bool = True,
        clock: Callable[[], Millis] = now_ms,
        on_write: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.keep = keep  # per project; 0 keeps everything
        self.mirroring = mirror
        self.clock = clock
        self.on_write = on_write  # the feed bus's wake-up
        self._pending: list[Pending] = []
        self._mirrors: list[tuple[FeedType, Actor, Task]] = []
        self._due = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._trimmer: asyncio.Task[None] | None = None
        self._grown = False  # written to since the last trim
        self._projects: dict[str, int] = {}

    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_forever(), name="ats-feed-writer")
            self._trimmer = asyncio.create_task(self._trim_forever(), name="ats-feed-trimmer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._writer is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while self._pending or self._mirrors:
                    self._due.set()
                    await asyncio.sleep(0.01)
        for task in (self._writer, self._trimmer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._writer = self._trimmer = None

    # --- writing --------------------------------------------------------------------------------

    async def publish(self, item: NewFeedEvent) -> FeedEvent:
        if self._writer is None:  # not started (tests, tools): write directly
            [event] = await self.store.feed.publish_feed([item], self.clock())
            self._grown = True
            self.on_write()
            return event
        done: asyncio.Future[FeedEvent] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        self._due.set()
        return await done

    def mirror(self, kind: FeedType, actor: Actor, tasks: list[Task]) -> None:
        """Queue feed copies of task changes (no waiting; see the module docstring)."""
        if self.mirroring and self._writer is not None and tasks:
            self._mirrors.extend((kind, actor, t) for t in tasks)
            self._due.set()

    async def _write_forever(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            try:
                await self._resolve_mirrors()
            except Exception:  # a project vanished or the database hiccupped: drop the copies
                log.exception("feed mirror failed")
            while self._pending:
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                await self._write(batch)

    async def _write(self, batch: list[Pending]) -> None:
        try:
            events = await self.store.feed.publish_feed([i for i, _ in batch], self.clock())
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, Unavailable):
                # One item the database refused must not fail its batch-mates: each on its own,
                # so only the bad one gets the error.
                for one in batch:
                    await self._write([one])
            else:
                self._fail(batch, exc)
            return
        for (_, f), event in zip(batch, events, strict=True):
            if f is not None and not f.done():  # a caller that went away is simply not told
                f.set_result(event)
        self._grown = True
        self.on_write()

    def _fail(self, batch: list[Pending], exc: Exception) -> None:
        waiting = [f for _, f in batch if f is not None and not f.done()]
        for w in waiting:
            w.set_exception(exc)
        if len(waiting) < len(batch):
            log.warning("feed mirror entries lost: %s", exc)

    async def _trim_forever(self) -> None:
        """Retention, off the publish path: a trim deletes from the old end of the index, which
        can take a while after a burst; publishes never wait for it."""
        while True:
            await asyncio.sleep(TRIM_EVERY_S)
            if self._grown and self.keep > 0:
                self._grown = False
                try:
                    await self.store.feed.trim_feed(self.keep)
                except Exception:  # the next round tries again
                    self._grown = True
                    log.exception("feed retention round failed")

    async def _resolve_mirrors(self) -> None:
        mirrors, self._mirrors = self._mirrors, []
        for kind, actor, task in mirrors:
            project_id = await self._project_id(task.project)
            summary = f"{_MIRROR_VERBS[kind]} task #{task.id}: {task.title}"
            metadata: dict[str, Any] = {
                "task_id": task.id,
                "channel": task.channel,
                "status": task.status.value,
            }
            detail = task.reason if kind is FeedType.TASK_FAILED else None
            item = NewFeedEvent(project_id, actor.id, kind, summary, detail, metadata)
            self._pending.append((item, None))

    async def _project_id(self, path: str) -> int:
        pid = self._projects.get(path)
        if pid is None:
            org, _, slug = path.partition("/")
            pid = self._projects[path] = (await self.store.catalog.get_project(org, slug)).id
        return pid

    # --- reading --------------------------------------------------------------------------------

    async def events(self, q: FeedQuery) -> list[FeedEvent]:
        return await self.store.feed.list_feed(q)

    async def get(self, event_id: str, project_id: int | None) -> FeedEvent:
        event = await self.store.feed.get_feed_event(event_id, project_id)
        if event is None:
            raise NotFound("Event not found")
        return event

    async def clear(self, project_id: int | None) -> None:
        await self.store.feed.clear_feed(project_id)

    async def stats(self, project_id: int | None) -> dict[str, Any]:
        return await self.store.feed.feed_stats(project_id)

    async def import_events(self, project_id: int, events: list[FeedEvent]) -> int:
        added = await self.store.feed.import_feed(project_id, events)
        if added:
            await self.store.feed.trim_feed(self.keep)
            self.on_write()
        return added
