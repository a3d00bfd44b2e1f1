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
            await store.tasks.create_tasks(
                1, [NewTask(title=f"t{i}", channel="a")], ACTOR, now_ms()
            )
        await store.tasks.create_tasks(1, [NewTask(title="tb", channel="b")], ACTOR, now_ms())
        bus.wake()
        async with asyncio.timeout(5):
            got = await only_b.get()
        assert got.event.channel == "b" and b'"channel":"b"' in got.json
        # the unfiltered subscriber never read: its queue of 3 overflowed, and it alone ended
        with pytest.raises(Overflow):
            for _ in range(4):
                await everything.get()
        assert everything.overflowed and not only_b.overflowed
        await store.tasks.create_tasks(1, [NewTask(title="tb2", channel="b")], ACTOR, now_ms())
        bus.wake()
        async with asyncio.timeout(5):
            assert (await only_b.get()).event.task.title == "tb2"
    finally:
        await bus.stop()


async def test_replay_covers_what_happened_before_subscribing(store: Store) -> None:
    first = await store.tasks.create_tasks(
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


async def test_notify_wakes_the_bus_of_another_process_at_once(pg_url: str) -> None:
    """Two stores (two pools, two LISTEN connections) stand for two server processes. Polling is
    set to a minute, so only the notification can bring A's event to B's subscriber in time."""
    from ats.store import open_store

    a, b = await open_store(pg_url), await open_store(pg_url)
    bus_a, bus_b = EventBus(a, poll_interval=60), EventBus(b, poll_interval=60)
    await bus_a.start()
    await bus_b.start()
    try:
        for s in (a, b):
            async with asyncio.timeout(5):
                await s.events.signals.connected.wait()  # type: ignore[attr-defined]
        sub = await bus_b.subscribe(EventFilter())
        for i in range(20):
            [task] = await a.tasks.create_tasks(1, [NewTask(title=f"n{i}")], ACTOR, now_ms())
            bus_a.wake()  # what TaskService does after each write
            async with asyncio.timeout(1):
                got = await sub.get()
            assert got.event.task_id == task.id
        # coalesced: never more notifications than commits
        assert 1 <= a.events.signals.sent <= 20  # type: ignore[attr-defined]
    finally:
        await bus_a.stop()
        await bus_b.stop()
        await a.close()
        await b.close()


async def test_an_overflowing_subscriber_gets_a_clean_prefix_then_the_end(store: Store) -> None:
    """Whatever it received before the drop is gap-free, so resuming after the last entry it
    saw loses nothing."""
    bus = EventBus(store, poll_interval=0.05, queue_size=5)
    await bus.start()
    try:
        sub = await bus.subscribe(EventFilter())
        first = await store.tasks.create_tasks(1, [NewTask(title="a")], ACTOR, now_ms())
        bus.wake()
        async with asyncio.timeout(5):
            got = [(await sub.get()).event.task_id]
        await store.tasks.create_tasks(
            1, [NewTask(title=f"b{i}") for i in range(12)], ACTOR, now_ms()
        )
        bus.wake()
        with pytest.raises(Overflow):
            async with asyncio.timeout(5):
                while True:
                    got.append((await sub.get()).event.task_id)
        assert got[0] == first[0].id
        assert got == list(range(got[0], got[0] + len(got)))  # no hole before the end
    finally:
        await bus.stop()
