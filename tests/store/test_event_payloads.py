"""A large payload is stored once per task, not once per event, and every event still carries it.

Migration 0007 keeps payloads over 1 KiB apart from the events' task snapshots; reading an event
puts the payload back (SPEC §2.3 ``data.task``). Retention takes a kept payload with the last event
that points at it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg

from ats.lifecycle import Claim, Complete
from ats.models import Actor, ActorType, Millis, now_ms
from ats.store import EventQuery, NewTask, Store

ACTOR = Actor(ActorType.AGENT, "worker", "Worker")
# ~870 KB, as in the issue; a 2**70 + 1 that a double cannot hold, and keys out of order
BIG: dict[str, Any] = {
    "z": 2**70 + 1,
    "blob": "x" * 870_000,
    "a": [1.5, "ü", None, {"nested": True}],
}


async def _sizes(db_url: str) -> tuple[int, int, int]:
    """(bytes of event snapshots, payload rows kept apart, their bytes), straight from the db."""
    if db_url.startswith("sqlite"):
        db = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        try:
            snap = db.execute("SELECT coalesce(sum(length(task)), 0) FROM events").fetchone()[0]
            rows, size = db.execute(
                "SELECT count(*), coalesce(sum(length(body)), 0) FROM event_payloads"
            ).fetchone()
        finally:
            db.close()
        return int(snap), int(rows), int(size)
    conn = await asyncpg.connect(db_url)
    try:
        snap = await conn.fetchval("SELECT coalesce(sum(octet_length(task::text)), 0) FROM events")
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(octet_length(body::text)), 0) AS b "
            "FROM event_payloads"
        )
    finally:
        await conn.close()
    return int(snap), int(row["n"]), int(row["b"])


async def _all_events(store: Store) -> list[Any]:
    return await store.events.read(EventQuery(since=0, limit=1000), now_ms())


async def test_renewals_and_messages_do_not_copy_a_large_payload(store: Store, db_url: str) -> None:
    [task] = await store.tasks.create_tasks(1, [NewTask(title="big", payload=BIG)], ACTOR, now_ms())
    claimed = await store.tasks.transition(task.id, None, Claim(60_000), ACTOR, now_ms())
    for _ in range(20):
        await store.tasks.transition(
            task.id, None, Claim(60_000, claimed.lease_token), ACTOR, now_ms()
        )
    for i in range(20):
        await store.tasks.add_message(
            task.id, None, [{"type": "text", "text": f"m{i}"}], ACTOR, now_ms()
        )
    await store.tasks.transition(
        task.id, None, Complete(["done"], claimed.lease_token), ACTOR, now_ms()
    )
    events = await _all_events(store)
    assert len(events) == 1 + 1 + 20 + 20 + 1
    for event in events:
        assert event.task.payload == BIG, event.type
        assert list(event.task.payload) == ["z", "blob", "a"]  # key order kept
    snapshots, kept, kept_bytes = await _sizes(db_url)
    # Before: 43 copies, ~37 MB. Now the snapshots are small and the payload is kept once
    # (PostgreSQL: at most twice, spelled by SQL and by the store's encoder).
    assert snapshots < 43 * 2_000, snapshots
    assert 1 <= kept <= 2, kept
    assert kept_bytes < 2 * 900_000


async def test_small_payloads_stay_in_the_snapshot(store: Store, db_url: str) -> None:
    small = {"k": "v" * 500}
    [task] = await store.tasks.create_tasks(1, [NewTask(title="s", payload=small)], ACTOR, now_ms())
    await store.tasks.transition(task.id, None, Claim(60_000), ACTOR, now_ms())
    assert [e.task.payload for e in await _all_events(store)] == [small, small]
    assert (await _sizes(db_url))[1] == 0


async def test_retention_takes_a_kept_payload_with_its_last_event(
    store: Store, db_url: str
) -> None:
    old = Millis(now_ms() - 3_600_000)
    [gone] = await store.tasks.create_tasks(1, [NewTask(title="old", payload=BIG)], ACTOR, old)
    await store.tasks.transition(gone.id, None, Claim(60_000), ACTOR, old)
    other = {**BIG, "z": 1}
    [kept] = await store.tasks.create_tasks(1, [NewTask(title="k", payload=other)], ACTOR, old)
    await store.tasks.transition(kept.id, None, Claim(60_000), ACTOR, now_ms())  # young
    assert (await _sizes(db_url))[1] == 2
    while await store.events.trim_events(Millis(now_ms() - 60_000), 1000):
        pass
    # The old task's two events went, and its payload with them; the other task's payload stays
    # for its young event (its creation event was old, and went).
    assert (await _sizes(db_url))[1] == 1
    [event] = await _all_events(store)
    assert event.task.id == kept.id and event.task.payload == other
