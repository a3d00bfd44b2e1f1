"""The buses of one server process: each tails a durable log and fans its entries out.

Two logs flow this way: task events (:class:`EventBus`, ids from a sequence, read up to the settled
horizon) and the activity feed (:class:`FeedBus`, ULIDs in commit order). The log is the source of
truth. One tailer per process reads it in
id order — woken at once by writes made through this process, by the store's signal that another
process wrote (LISTEN/NOTIFY on PostgreSQL), and every ``poll_interval`` in case a signal was
lost — encodes each event once, and hands it to every matching subscriber's bounded queue. A
subscriber whose queue is full is dropped, never waited for: a slow reader cannot slow the
others or the API. It resumes with ``since``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ats.errors import Unavailable
from ats.jsontext import dumps
from ats.models import Event, FeedEvent, now_ms
from ats.service import retention
from ats.store import EventQuery, Store
from ats.store.base import FeedQuery

log = logging.getLogger("ats.bus")
PAGE = 1000


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Exact-match filters; None means everything (SPEC §4)."""

    channels: frozenset[str] | None = None
    task_types: frozenset[str] | None = None
    event_types: frozenset[str] | None = None
    project: str | None = None  # "org/project"

    @staticmethod
    def of(values: Iterable[str] | None) -> frozenset[str] | None:
        return None if values is None else frozenset(values)

    def matches(self, event: Event) -> bool:
        return (
            (self.channels is None or event.channel in self.channels)
            and (self.task_types is None or event.task_type in self.task_types)
            and (self.event_types is None or event.type.value in self.event_types)
            and (self.project is None or event.task.project == self.project)
        )


class Logged(Protocol):
    """An entry of a log: ordered by ``id`` (an int or a ULID), encoded by ``to_json``."""

    @property
    def id(self) -> Any: ...

    def to_json(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=Logged)


T_contra = TypeVar("T_contra", contravariant=True)


class Filter(Protocol[T_contra]):
    def matches(self, item: T_contra, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """Exact-match filters on the activity feed; None means everything."""

    agent: str | None = None
    type: str | None = None
    project: str | None = None  # "org/project"

    def matches(self, event: FeedEvent) -> bool:
        return (
            (self.agent is None or event.agent == self.agent)
            and (self.type is None or event.type.value == self.type)
            and (self.project is None or event.project == self.project)
        )


@dataclass(frozen=True, slots=True)
class Delivery(Generic[T]):
    """One event, encoded once for every subscriber: bytes for SSE, text for WebSocket frames.

    ``wire`` caches further encodings made by the transports (a WebSocket frame, say), so that
    they too are made once per event, not once per subscriber.
    """

    event: T
    json: bytes
    text: str
    wire: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, event: T) -> Delivery[T]:
        encoded = dumps(event.to_json())
        return cls(event, encoded, encoded.decode())


# Writes deliveries straight to the subscriber's connection if it can take them now (in order,
# after everything written before); False means "not now": queue them instead.
Direct = Callable[[list[Delivery[Any]]], bool]


class Overflow(Exception):
    """The subscriber fell too far behind and was dropped."""


class Subscription(Generic[T]):
    def __init__(self, bus: Bus[T], wanted: Filter[T], size: int) -> None:
        self.bus = bus
        self.wanted = wanted
        self.queue: asyncio.Queue[Delivery[T] | None] = asyncio.Queue(size)
        self.start = bus.position  # live deliveries are the events after this id
        self.overflowed = False
        self.dropped = asyncio.Event()  # set on overflow, for a writer stuck on a full socket
        # Set by the consumer while it is caught up (its queue empty, nothing being written);
        # the consumer clears it again whenever it refuses a write.
        self.direct: Direct | None = None

    def offer(self, deliveries: list[Delivery[T]]) -> None:
        """Hand over the next deliveries (id order): written at once when the consumer can take
        them, queued otherwise; a full queue drops the subscriber."""
        if self.overflowed:
            return
        wanted = [d for d in deliveries if self.wanted.matches(d.event)]
        if not wanted:
            return
        direct = self.direct
        if direct is not None and self.queue.empty() and direct(wanted):
            return
        self.direct = None
        for delivery in wanted:
            try:
                self.queue.put_nowait(delivery)
            except asyncio.QueueFull:
                self._drop()
                return

    def _drop(self) -> None:
        self.overflowed = True
        self.dropped.set()
        self.bus.unsubscribe(self)
        # Empty the queue before the end marker. Dropping only the oldest entry to make room
        # would leave a hole: the client would get later entries, then resume after the last one
        # it saw and never get the one dropped. Now it gets a clean prefix, then the end.
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def get(self) -> Delivery[T]:
        delivery = await self.queue.get()
        if delivery is None:
            raise Overflow("subscriber fell behind")
        return delivery

    async def get_batch(self, most: int = 500) -> list[Delivery[T]]:
        """The next delivery and whatever else is already waiting (one write for many)."""
        batch = [await self.get()]
        while len(batch) < most and not self.queue.empty():
            delivery = self.queue.get_nowait()
            if delivery is None:
                self.queue.put_nowait(None)  # report the overflow on the next call
                break
            batch.append(delivery)
        return batch

    async def replay(self, since: Any) -> AsyncIterator[Delivery[T]]:
        """Matching entries after ``since`` up to where the live feed starts, from the log.

        Subscribe first, then replay: an entry committed meanwhile is in the live queue, and
        the caller skips live entries it already replayed (ids only grow).
        """
        cursor = since
        while cursor < self.start:
            page = await self.bus.read(cursor, PAGE)
            if not page:
                if not self.bus.settles:
                    return  # the rest was deleted (cleared, trimmed)
                await asyncio.sleep(0.01)  # the log's safe horizon is behind: a commit is landing
                continue
            await self.bus.ensure_kept(cursor, page[0].id)  # trimmed meanwhile: Gone, not a gap
            for event in page:
                if event.id > self.start:
                    return
                cursor = event.id
                if self.wanted.matches(event):
                    yield Delivery.of(event)

    def close(self) -> None:
        self.bus.unsubscribe(self)


class Bus(Generic[T]):
    """One log's tailer and its subscribers; subclasses say how to read the log."""

    name = "bus"
    settles = False  # True: the log's readable end may lag commits (replay waits for it)

    def __init__(self, store: Store, *, poll_interval: float = 0.25, queue_size: int = 1000):
        self.store = store
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self.position: Any = None
        self._subscribers: set[Subscription[T]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def read(self, after: Any, limit: int) -> list[T]:
        """Entries after ``after`` in id order, as far as the log is complete."""
        raise NotImplementedError

    async def head(self) -> Any:
        """The id up to which the log is complete (a live reader starts after it)."""
        raise NotImplementedError

    async def ensure_kept(self, since: Any, first: Any = None) -> None:
        """Raise Gone when entries after ``since`` were trimmed (``first``: the first entry a read
        after ``since`` returned). Logs without that promise accept anything."""

    async def start(self) -> None:
        self.position = await self.head()
        self.store.events.listen(self._wake.set)
        self._task = asyncio.create_task(self._tail(), name=f"ats-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self._subscribers):
            if not sub.queue.full():
                sub.queue.put_nowait(None)  # ends the subscriber's stream
        self._subscribers.clear()

    def wake(self) -> None:
        """Events were committed through this process: read the log now, and tell the others."""
        self._wake.set()
        self.store.events.announce()

    async def subscribe(self, wanted: Filter[T]) -> Subscription[T]:
        if not self._subscribers:
            # Nobody was listening, so the tailer did not read: start from the log's end.
            self.position = max(self.position, await self.head())
        sub = Subscription(self, wanted, self.queue_size)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription[T]) -> None:
        self._subscribers.discard(sub)

    async def _tail(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # lands as the wake-up completes, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()
            if not self._subscribers:
                continue  # nothing to deliver to: do not read the log at all
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except Unavailable as exc:  # the database is away: the next round reads from here
                log.warning("%s round failed: %s", self.name, exc)
            except Exception:  # anything else: the same, with the traceback
                log.exception("%s round failed", self.name)

    async def _drain(self) -> None:
        while True:
            page = await self.read(self.position, PAGE)
            if page:
                deliveries = [Delivery.of(event) for event in page]
                self.position = page[-1].id
                for sub in list(self._subscribers):
                    sub.offer(deliveries)
            if len(page) < PAGE:
                return


class EventBus(Bus[Event]):
    """Task events (SPEC §2.3): ids from a sequence; the readable end waits for late commits."""

    name = "event-bus"
    settles = True

    async def read(self, after: Any, limit: int) -> list[Event]:
        return await self.store.events.read(EventQuery(since=after, limit=limit), now_ms())

    async def head(self) -> int:
        return await self.store.events.latest_event_id(now_ms())

    async def ensure_kept(self, since: Any, first: Any = None) -> None:
        await retention.ensure_kept(self.store, since, first)


class FeedBus(Bus[FeedEvent]):
    """The activity feed (SPEC §7): ULIDs handed out in commit order, so no gaps to wait for."""

    name = "feed-bus"

    async def read(self, after: Any, limit: int) -> list[FeedEvent]:
        return await self.store.feed.list_feed(FeedQuery(after=after, limit=limit))

    async def head(self) -> str:
        return await self.store.feed.feed_head()
