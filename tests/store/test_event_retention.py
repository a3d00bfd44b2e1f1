"""Event log retention on both backends: old events go oldest first, in bounded steps, never the
newest; a reader asking for trimmed events is told (Gone), and writers keep going meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from ats.errors import Gone
from ats.models import Actor, ActorType, Millis, now_ms
from ats.service import retention
from ats.service.bus import EventBus, EventFilter
from ats.store import EventQuery, NewTask, Store

ACTOR = Actor(ActorType.AGENT, "writer", "Writer")
HOUR = 3_600_000


async def _events(store: Store, n: int, at: int) -> list[int]:
    """``n`` task.created events written at ``at`` (the store stamps what it is given)."""
    tasks = await store.tasks.create_tasks(
        1, [NewTask(title=f"t{i}") for i in range(n)], ACTOR, Millis(at)
    )
    return [t.id for t in tasks]


async def _ids(store: Store, since: int = 0) -> list[int]:
    return [e.id for e in await store.events.read(EventQuery(since=since, limit=1000), now_ms())]


async def test_trim_goes_in_bounded_steps_oldest_first(store: Store) -> None:
    await _events(store, 25, now_ms() - HOUR)
    await _events(store, 5, now_ms())
    cutoff = Millis(now_ms() - 60_000)
    steps = [await store.events.trim_events(cutoff, 10) for _ in range(4)]
    assert steps == [10, 10, 5, 0]
    kept = await store.events.kept_events()
    assert (kept.trimmed, kept.oldest) == (25, 26)
    # The young events right after the trimmed ones are read at once: no gap to wait for.
    assert await _ids(store) == [26, 27, 28, 29, 30]
    assert await store.events.latest_event_id(now_ms()) == 30


async def test_trim_stops_at_the_first_young_event_and_keeps_the_newest(store: Store) -> None:
    old = now_ms() - HOUR
    await _events(store, 3, old)
    await _events(store, 1, now_ms())  # event 4: young
    await _events(store, 3, old)  # 5..7: old again (a skewed clock) but after a young one
    assert await retention.trim_once(store, Millis(now_ms() - 60_000)) == 3
    assert (await store.events.kept_events()).oldest == 4  # the kept log stays a contiguous tail
    await _events(store, 2, old)  # 8, 9
    fresh = await _events(store, 1, old)  # 10: the newest, old too
    assert fresh == [10]
    assert await retention.trim_once(store, now_ms()) == 9 - 3
    kept = await store.events.kept_events()
    assert (kept.trimmed, kept.oldest) == (9, 10)  # the newest stays: the log's head is known
    assert await _ids(store) == [10]


async def test_gone_is_for_readers_behind_the_trimmed_prefix_only(store: Store) -> None:
    await retention.ensure_kept(store, 0)  # empty log: nothing is gone
    await _events(store, 6, now_ms() - HOUR)
    await _events(store, 2, now_ms())
    await retention.ensure_kept(store, 0)  # nothing trimmed yet
    await retention.trim_once(store, Millis(now_ms() - 60_000))
    for since in (0, 1, 5):
        with pytest.raises(Gone) as caught:
            await retention.ensure_kept(store, since)
        assert caught.value.details == {"oldest": 7}
        assert caught.value.to_json()["code"] == "gone"
    for since in (6, 7, 8, 100):  # since is exclusive: 6 misses nothing
        await retention.ensure_kept(store, since)


async def test_writes_go_on_while_a_large_trim_runs(store: Store) -> None:
    for _ in range(6):
        await _events(store, 500, now_ms() - HOUR)
    trim_done = asyncio.Event()
    written_during: list[int] = []

    async def write() -> None:
        while not trim_done.is_set():
            [tid] = await _events(store, 1, now_ms())
            if not trim_done.is_set():
                written_during.append(tid)
            await asyncio.sleep(0)

    async def trim() -> int:
        try:
            return await retention.trim_once(store, Millis(now_ms() - 60_000), batch=250)
        finally:
            trim_done.set()

    writers = [asyncio.create_task(write()) for _ in range(3)]
    gone = await trim()
    await asyncio.gather(*writers)
    assert gone == 3000
    assert len(written_during) >= 6  # the trim's steps took turns with the writers
    assert await _ids(store, 0) == sorted(await _ids(store, 0))
    assert (await store.events.kept_events()).oldest == 3001


async def test_a_replay_overtaken_by_the_trimmer_ends_gone_not_with_a_gap(store: Store) -> None:
    await _events(store, 2500, now_ms() - HOUR)
    bus = EventBus(store)
    await bus.start()
    try:
        sub = await bus.subscribe(EventFilter())
        seen: list[int] = []
        with pytest.raises(Gone) as caught:
            async for delivery in sub.replay(0):
                seen.append(delivery.event.id)
                if len(seen) == 10:  # the trimmer overtakes the replay, one page in
                    await retention.trim_once(store, now_ms())
        assert seen == list(range(1, 1001))  # the page read before the trim, then the news
        assert caught.value.details == {"oldest": 2500}
    finally:
        await bus.stop()
