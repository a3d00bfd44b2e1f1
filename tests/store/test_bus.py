"""The event bus over the real event log: fan-out, filters, a slow subscriber dropped alone."""

from __future__ import annotations

import asyncio

import pytest

from ats.models import Actor, ActorType, now_ms
from ats.service.bus import EventBus, EventFilter, Overflow
from ats.store import NewTask, Store

ACTOR = Actor(ActorType.AGENT, "bus", "Bus")


async def test_fan_out_filters_and_a_slow_subscriber_is_dropped(store: Store) -> None:
    bus = EventBus(store, poll_interval=0.05, queue_size=3)
    await bus.start()
    try:
        everything = await bus.subscribe(EventFilter())
        only_b = await bus.subscribe(EventFilter(channels=frozenset({"b"})))
        for i in range(5):
            await store.create_tasks(1, [NewTask(title=f"t{i}", channel="a")], ACTOR, now_ms())
        await store.create_tasks(1, [NewTask(title="tb", channel="b")], ACTOR, now_ms())
        bus.wake()
        async with asyncio.timeout(5):
            got = await only_b.get()
        assert got.event.channel == "b" and b'"channel":"b"' in got.json
        # the unfiltered subscriber never read: its queue of 3 overflowed, and it alone ended
        with pytest.raises(Overflow):
            for _ in range(4):
                await everything.get()
        assert everything.overflowed and not only_b.overflowed
        await store.create_tasks(1, [NewTask(title="tb2", channel="b")], ACTOR, now_ms())
        bus.wake()
        async with asyncio.timeout(5):
            assert (await only_b.get()).event.task.title == "tb2"
    finally:
        await bus.stop()


async def test_replay_covers_what_happened_before_subscribing(store: Store) -> None:
    first = await store.create_tasks(
        1, [NewTask(title=f"old{i}") for i in range(3)], ACTOR, now_ms()
    )
    bus = EventBus(store, poll_interval=0.05)
    await bus.start()
    try:
        sub = await bus.subscribe(EventFilter())
        replayed = [d.event.task_id async for d in sub.replay(0)]
        assert replayed == [t.id for t in first]
    finally:
        await bus.stop()
