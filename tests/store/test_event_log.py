"""The event log under concurrent writers: a reader polling with `since` sees every event once,
in id order — also on PostgreSQL, where transactions commit out of id order."""

from __future__ import annotations

import asyncio

from ats.lifecycle import Claim, Complete
from ats.models import Actor, ActorType, now_ms
from ats.store import EventQuery, NewTask, Store

ACTOR = Actor(ActorType.AGENT, "writer", "Writer")


async def test_polling_reader_misses_nothing_under_concurrent_writes(store: Store) -> None:
    writers, per_writer = 8, 40
    stop = asyncio.Event()
    seen: list[int] = []

    async def write(n: int) -> None:
        for i in range(per_writer):
            [task] = await store.tasks.create_tasks(
                1, [NewTask(title=f"w{n}-{i}")], ACTOR, now_ms()
            )
            await store.tasks.transition(task.id, None, Claim(60_000), ACTOR, now_ms())
            await store.tasks.transition(task.id, None, Complete(["ok"]), ACTOR, now_ms())

    async def read() -> None:
        since = 0
        while True:
            done = stop.is_set()
            batch = await store.events.read(EventQuery(since=since, limit=50), now_ms())
            seen.extend(e.id for e in batch)
            if batch:
                since = batch[-1].id
            elif done:
                return
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(write(n) for n in range(writers)))
    stop.set()
    await reader
    assert len(seen) == writers * per_writer * 3
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    everything = await store.events.read(EventQuery(since=0, limit=1000), now_ms())
    assert [e.id for e in everything] == seen


async def test_event_snapshot_is_the_task_after_the_change(store: Store) -> None:
    [task] = await store.tasks.create_tasks(
        1, [NewTask(title="snap", channel="c", payload={"b": 2, "a": 1})], ACTOR, now_ms()
    )
    await store.tasks.transition(task.id, None, Claim(1000), ACTOR, now_ms())
    events = await store.events.read(EventQuery(since=0, task_id=task.id), now_ms())
    created, claimed = events
    assert created.task.status.value == "pending" and created.task.payload == {"b": 2, "a": 1}
    assert list(created.task.payload) == ["b", "a"]
    assert claimed.task.status.value == "in_progress" and claimed.task.assignee == ACTOR
    assert claimed.to_json()["data"]["task"]["project"] == "default/main"


async def test_tidy_vacuums_only_postgresql(store: Store) -> None:
    [task] = await store.tasks.create_tasks(1, [NewTask(title="churn")], ACTOR, now_ms())
    await store.tasks.transition(task.id, None, Claim(60_000), ACTOR, now_ms())
    ran = await store.upkeep.tidy(0)
    assert ran is (store.kind == "postgresql")
    assert await store.upkeep.tidy(10**9) is False  # below the threshold: nothing to do
