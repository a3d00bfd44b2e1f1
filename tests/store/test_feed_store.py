"""The activity feed in the store, on both backends: ids, paging, retention, import, stats."""

from __future__ import annotations

import asyncio

from ats.models import FeedEvent, FeedType, now_ms
from ats.store import Store, open_store
from ats.store.base import FeedQuery, NewFeedEvent
from ats.ulids import after_millis


def item(agent: str = "a1", type: FeedType = FeedType.FINDING, n: int = 0) -> NewFeedEvent:
    return NewFeedEvent(1, agent, type, f"summary {n}", detail=None, metadata={"n": n})


async def test_publish_list_get_clear(store: Store) -> None:
    first = await store.feed.publish_feed([item(n=0), item("a2", FeedType.QUESTION, 1)], now_ms())
    assert first[0].id < first[1].id and len(first[0].id) == 26
    more = await store.feed.publish_feed([item(n=i) for i in range(2, 6)], now_ms())
    everything = await store.feed.list_feed(FeedQuery(limit=100))
    assert [e.id for e in everything] == [e.id for e in first + more]
    assert [e.summary for e in await store.feed.list_feed(FeedQuery(limit=2))] == [
        "summary 4",
        "summary 5",
    ]  # the last two, oldest first
    after = await store.feed.list_feed(FeedQuery(after=first[1].id, limit=2))
    assert [e.summary for e in after] == ["summary 2", "summary 3"]  # the first two after
    only = await store.feed.list_feed(FeedQuery(agent="a2", limit=10))
    assert [e.type for e in only] == [FeedType.QUESTION]
    got = await store.feed.get_feed_event(first[0].id, None)
    assert got is not None and got.metadata == {"n": 0} and got.project == "default/main"
    assert await store.feed.get_feed_event("0" * 26, None) is None
    stats = await store.feed.feed_stats(None)
    assert stats["total"] == 6 and stats["byAgent"] == {"a1": 5, "a2": 1}
    assert stats["byType"] == {"finding": 5, "question": 1}
    assert stats["latestPerAgent"]["a1"]["summary"] == "summary 5"
    head = await store.feed.feed_head()
    await store.feed.clear_feed(None)
    assert await store.feed.list_feed(FeedQuery(limit=10)) == []
    [again] = await store.feed.publish_feed([item(n=9)], now_ms())
    assert again.id > head  # ids keep growing after a clear: pollers never go back


async def test_retention_keeps_the_newest(store: Store) -> None:
    for batch in range(5):
        await store.feed.publish_feed([item(n=batch * 10 + i) for i in range(10)], now_ms())
    assert await store.feed.trim_feed(25) == 25
    assert await store.feed.trim_feed(25) == 0  # nothing more to do
    kept = await store.feed.list_feed(FeedQuery(limit=1000))
    assert [e.summary for e in kept] == [f"summary {n}" for n in range(25, 50)]
    assert (await store.feed.feed_stats(None))["total"] == 25


async def test_since_a_time_and_clock_going_back(store: Store) -> None:
    now = now_ms()
    [a] = await store.feed.publish_feed([item(n=1)], now)
    [b] = await store.feed.publish_feed([item(n=2)], now - 60_000)  # the clock stepped back
    assert b.id > a.id
    later = await store.feed.list_feed(FeedQuery(after=after_millis(now - 1), limit=10))
    assert [e.id for e in later] == [a.id, b.id]


async def test_import_is_all_or_nothing_and_skips_known_ids(store: Store) -> None:
    [mine] = await store.feed.publish_feed([item(n=1)], now_ms())
    events = [
        FeedEvent("01J0000000000000000000000" + str(i), "imp", FeedType.CUSTOM, f"i{i}", 1000 + i)
        for i in range(3)
    ]
    assert await store.feed.import_feed(1, [*events, mine]) == 3  # `mine` is already there
    assert await store.feed.import_feed(1, events) == 0
    listed = await store.feed.list_feed(FeedQuery(limit=10))
    assert [e.summary for e in listed] == ["i0", "i1", "i2", "summary 1"]
    [newer] = await store.feed.publish_feed([item(n=2)], now_ms())
    assert newer.id > mine.id


async def test_concurrent_publishers_get_ids_in_commit_order(db_url: str) -> None:
    """Two stores stand for two server processes; each id is above every id committed before
    it, so a poller that remembers its last id never misses one."""
    a, b = await open_store(db_url), await open_store(db_url)
    try:
        seen: list[str] = []

        async def publisher(s: Store, name: str) -> None:
            for n in range(60):
                [e] = await s.feed.publish_feed(
                    [NewFeedEvent(1, name, FeedType.CUSTOM, str(n))], now_ms()
                )
                seen.append(e.id)

        async def poller() -> list[str]:
            got: list[str] = []
            last = ""
            while len(got) < 240:
                page = await a.feed.list_feed(FeedQuery(after=last, limit=1000))
                if page:
                    got += [e.id for e in page]
                    last = page[-1].id
                await asyncio.sleep(0)
            return got

        polled = asyncio.create_task(poller())
        await asyncio.gather(*(publisher(s, f"{s is a}-{k}") for s in (a, b) for k in range(2)))
        got = await asyncio.wait_for(polled, 30)
        assert got == sorted(seen) and len(set(got)) == 240
    finally:
        await a.close()
        await b.close()
