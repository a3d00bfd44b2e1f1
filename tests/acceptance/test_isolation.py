"""One bad client must not hurt the others (SPEC §10), against a real ``ats serve``."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import httpx
import pytest

from ats.errors import InvalidInput
from ats.models import FeedType
from ats.service.feed import FeedService
from ats.store import Store
from ats.store.base import FeedQuery, NewFeedEvent

BAD_BODIES = [
    b'{"agent": "bad", "type": "finding", "summary": "nul \\u0000 inside"}',
    b'{"agent": "bad", "type": "finding", "summary": "s", "metadata": {"a": '
    + b"[" * 1000
    + b"]" * 1000
    + b"}}",
    b'{"agent": "bad", "type": "finding", "summary": NaN}',
    b'{"agent": "bad", "type": "nope", "summary": "s"}',
    b'{"agent": "bad", "type": "finding", "summary": "\\ud800"}',
]


async def test_invalid_publisher_beside_eight_valid_ones(server_url: str) -> None:
    stop = asyncio.Event()
    refused: list[int] = []

    async def bad() -> None:
        async with httpx.AsyncClient(base_url=server_url, timeout=30) as c:
            while not stop.is_set():
                for body in BAD_BODIES:
                    r = await c.post("/feed/events", content=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
                    refused.append(r.status_code)

    async def good(n: int) -> list[int]:
        codes = []
        async with httpx.AsyncClient(base_url=server_url, timeout=30) as c:
            for i in range(60):
                body = {"agent": f"good-{n}", "type": "finding", "summary": f"{n}/{i}"}
                codes.append((await c.post("/feed/events", json=body)).status_code)
        return codes

    attacker = asyncio.ensure_future(bad())
    results = await asyncio.gather(*(good(n) for n in range(8)))
    stop.set()
    await attacker
    assert all(code == 201 for codes in results for code in codes), results
    assert refused and set(refused) == {400}, set(refused)
    async with httpx.AsyncClient(base_url=server_url) as c:
        events = (await c.get("/feed/events?limit=1000")).json()
    assert len(events) == 8 * 60 and {e["agent"] for e in events} == {f"good-{n}" for n in range(8)}


class RefusesOne:
    """A real store whose feed refuses any batch holding the agent "poison" (as a database
    refuses a value it cannot store), to show the refusal stays with that one item."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.feed = self  # the feed port: publish_feed below, the rest from the real one

    def __getattr__(self, name: str) -> object:
        return (
            getattr(self.store.feed, name)
            if hasattr(self.store.feed, name)
            else (getattr(self.store, name))
        )

    async def publish_feed(self, items: list[NewFeedEvent], now: int) -> object:
        if any(i.agent == "poison" for i in items):
            raise InvalidInput("refused by the database: poison", field="agent")
        return await self.store.feed.publish_feed(items, now)


async def test_a_refused_item_fails_alone_in_its_batch(store: Store) -> None:
    feed = FeedService(RefusesOne(store), keep=0, mirror=False)  # type: ignore[arg-type]
    feed.start()
    try:
        pid = (await store.catalog.default_project()).id
        items = [
            NewFeedEvent(pid, f"a{i}", FeedType.FINDING, f"s{i}", None, None) for i in range(8)
        ]
        items.insert(4, NewFeedEvent(pid, "poison", FeedType.FINDING, "x", None, None))
        # All nine queue before the writer runs: they share one batch.
        outcomes = await asyncio.gather(*(feed.publish(i) for i in items), return_exceptions=True)
    finally:
        await feed.stop()
    assert isinstance(outcomes[4], InvalidInput)
    good = [o for i, o in enumerate(outcomes) if i != 4]
    assert all(not isinstance(o, BaseException) for o in good), outcomes
    stored = await store.feed.list_feed(FeedQuery(after=None, limit=100))
    assert sorted(e.agent for e in stored) == [f"a{i}" for i in range(8)]


def _feed_file(megabytes: int) -> bytes:
    line = (
        b'{"id": "%s", "agent": "importer", "type": "finding", "summary": "%s", '
        b'"timestamp": "2026-01-01T00:00:00.000Z", "metadata": {"n": %d}}\n'
    )
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    out = []
    size = 0
    i = 0
    pad = b"x" * 200
    while size < megabytes * 1024 * 1024:
        n, digits = i, []
        for _ in range(10):
            digits.append(alphabet[n % 32])
            n //= 32
        ulid = ("01J9ZQ4H3M8W0C" + "".join(reversed(digits)) + "00")[:26]
        item = line % (ulid.encode(), pad, i)
        out.append(item)
        size += len(item)
        i += 1
    return b"".join(out)


@pytest.mark.serial
def test_health_answers_during_a_60_mib_import(server_url: str) -> None:
    data = _feed_file(60)
    done: list[httpx.Response] = []

    def run_import() -> None:
        with httpx.Client(base_url=server_url, timeout=600) as c:
            done.append(c.post("/feed/import", content=data))

    worker = threading.Thread(target=run_import)
    latencies: list[float] = []
    with httpx.Client(base_url=server_url, timeout=10) as c:
        c.get("/health")  # connection up before the clock starts
        worker.start()
        while worker.is_alive():
            start = time.perf_counter()
            assert c.get("/health").status_code == 200
            latencies.append(time.perf_counter() - start)
            time.sleep(0.02)
    worker.join()
    assert done and done[0].status_code == 201, done[0].text if done else "no answer"
    assert done[0].json()["imported"] > 150_000
    assert len(latencies) >= 10, latencies
    median = statistics.median(latencies)
    print(f"/health during a 60 MiB import: n={len(latencies)} median={median * 1000:.1f} ms "
          f"p90={sorted(latencies)[int(len(latencies) * 0.9)] * 1000:.1f} ms "
          f"max={max(latencies) * 1000:.1f} ms")  # fmt: skip
    assert median < 0.1, latencies
