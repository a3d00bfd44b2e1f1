"""The event bus of one server process: it tails the durable event log and fans events out.

The log (the store's ``events`` table) is the source of truth. One tailer per process reads it in
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

from ats.jsontext import dumps
from ats.models import Event, now_ms
from ats.store import EventQuery, Store

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


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event, encoded once for every subscriber: bytes for SSE, text for WebSocket frames.

    ``wire`` caches further encodings made by the transports (a WebSocket frame, say), so that
    they too are made once per event, not once per subscriber.
    """

    event: Event
    json: bytes
    text: str
    wire: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, event: Event) -> Delivery:
        encoded = dumps(event.to_json())
        return cls(event, encoded, encoded.decode())


# Writes deliveries straight to the subscriber's connection if it can take them now (in order,
# after everything written before); False means "not now": queue them instead.
Direct = Callable[[list[Delivery]], bool]


class Overflow(Exception):
    """The subscriber fell too far behind and was dropped."""


class Subscription:
    def __init__(self, bus: EventBus, wanted: EventFilter, size: int) -> None:
        self.bus = bus
        self.wanted = wanted
        self.queue: asyncio.Queue[Delivery | None] = asyncio.Queue(size)
        self.start = bus.position  # live deliveries are the events after this id
        self.overflowed = False
        self.dropped = asyncio.Event()  # set on overflow, for a writer stuck on a full socket
        # Set by the consumer while it is caught up (its queue empty, nothing being written);
        # the consumer clears it again whenever it refuses a write.
        self.direct: Direct | None = None

    def offer(self, deliveries: list[Delivery]) -> None:
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
        with contextlib.suppress(asyncio.QueueEmpty):
            self.queue.get_nowait()  # make room for the end marker
        self.queue.put_nowait(None)

    async def get(self) -> Delivery:
        delivery = await self.queue.get()
        if delivery is None:
            raise Overflow("subscriber fell behind")
        return delivery

    async def get_batch(self, most: int = 500) -> list[Delivery]:
        """The next delivery and whatever else is already waiting (one write for many)."""
        batch = [await self.get()]
        while len(batch) < most and not self.queue.empty():
            delivery = self.queue.get_nowait()
            if delivery is None:
                self.queue.put_nowait(None)  # report the overflow on the next call
                break
            batch.append(delivery)
        return batch

    async def replay(self, since: int) -> AsyncIterator[Delivery]:
        """Matching events after ``since`` up to where the live feed starts, from the log.

        Subscribe first, then replay: an event committed meanwhile is in the live queue, and
        the caller skips live events it already replayed (ids only grow).
        """
        cursor = since
        while cursor < self.start:
            page = await self.bus.store.events(EventQuery(since=cursor, limit=PAGE), now_ms())
            if not page:
                await asyncio.sleep(0.01)  # the log's safe horizon is behind: a commit is landing
                continue
            for event in page:
                if event.id > self.start:
                    return
                cursor = event.id
                if self.wanted.matches(event):
                    yield Delivery.of(event)

    def close(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    def __init__(self, store: Store, *, poll_interval: float = 0.25, queue_size: int = 1000):
        self.store = store
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self.position = 0
        self._subscribers: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.position = await self.store.latest_event_id(now_ms())
        self.store.listen(self._wake.set)
        self._task = asyncio.create_task(self._tail(), name="ats-event-bus")

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
        self.store.announce()

    async def subscribe(self, wanted: EventFilter) -> Subscription:
        if not self._subscribers:
            # Nobody was listening, so the tailer did not read: start from the log's end.
            self.position = max(self.position, await self.store.latest_event_id(now_ms()))
        sub = Subscription(self, wanted, self.queue_size)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
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
            except Exception:  # a database hiccup: the next round reads from the same place
                log.exception("event bus round failed")

    async def _drain(self) -> None:
        while True:
            page = await self.store.events(EventQuery(since=self.position, limit=PAGE), now_ms())
            if page:
                deliveries = [Delivery.of(event) for event in page]
                self.position = page[-1].id
                for sub in list(self._subscribers):
                    sub.offer(deliveries)
            if len(page) < PAGE:
                return
