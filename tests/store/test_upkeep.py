"""Steady churn keeps every table within ~2x of its live size (SPEC §9.1), on both backends.

A bounded churn — 20,000 tasks created, claimed and completed, 20,000 activity-feed publishes
under a retention of 1,000 — runs through the store with the server's own upkeep steps between
rounds (feed retention, the reaper's fold and tidy). Then each table
(with its indexes) is compared with its size after ``VACUUM FULL`` (PostgreSQL) / ``VACUUM``
(SQLite), and the figures are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ats.lifecycle import Action, Complete
from ats.models import Actor, ActorType, FeedType, now_ms
from ats.service import reaper
from ats.store import NewTask, Store, open_store
from ats.store.base import NewFeedEvent

ACTOR = Actor(ActorType.AGENT, "churner", "Churner")
TASKS, FEED, KEEP = 20_000, 20_000, 1_000
ROUND = 100  # tasks created, claimed and completed (and feed events published) per round
# Page and fork granularity: a one-row table is a few pages either way, and once vacuumed a
# PostgreSQL table grows a visibility map (8 KB) and free-space maps (24 KB for it and for each
# index with recyclable pages) that VACUUM FULL starts without.
SLACK = 128 * 1024


async def upkeep(store: Store) -> None:
    """One round of what ``ats serve`` runs beside the requests, every second: feed retention
    (service/feed.py), then the reaper's upkeep (fold the count ledger, tidy)."""
    await store.feed.trim_feed(KEEP)
    await store.upkeep.fold_counts()
    await store.upkeep.tidy(reaper.TIDY_DEAD_ROWS)


async def churn(store: Store) -> None:
    for r in range(TASKS // ROUND):
        specs = [NewTask(title=f"churn {r}-{i}", payload={"i": i}) for i in range(ROUND)]
        await store.tasks.create_tasks(1, specs, ACTOR, now_ms())
        claimed = 0
        while claimed < ROUND:
            got = await store.tasks.claim_next(1, None, None, 60_000, 10, ACTOR, now_ms())
            claimed += len(got)
            done: list[tuple[int, Action]] = [(t.id, Complete({"ok": True})) for t in got]
            await store.tasks.transition_many(1, done, ACTOR, now_ms())
        for b in range(0, ROUND, 10):
            items = [
                NewFeedEvent(1, f"agent-{i % 7}", FeedType.FINDING, f"step {r}-{b + i}")
                for i in range(10)
            ]
            await store.feed.publish_feed(items, now_ms())
        # Upkeep at fixed points, not on a clock, so the figures do not depend on how fast this
        # machine is: a round stands for one second of a server doing 100 claim + complete
        # cycles and publishing 100 feed events a second into one project.
        await upkeep(store)


def sizes(stats: dict[str, Any]) -> dict[str, int]:
    return {t["name"]: int(t["total_bytes"] or 0) for t in stats["tables"]}


def split(stats: dict[str, Any], name: str) -> str:
    """ "table + indexes" in KB, for the printed figures."""
    t = next(t for t in stats["tables"] if t["name"] == name)
    return f"{(t['bytes'] or 0) // 1024:,}+{(t['index_bytes'] or 0) // 1024:,} KB"


@pytest.mark.serial  # vacuum timing: a loaded machine delays it
@pytest.mark.timeout(300)
async def test_tables_stay_within_twice_their_live_size_under_churn(db_url: str) -> None:
    store = await open_store(db_url, pool_size=5)
    try:
        await churn(store)
        churned = await store.upkeep.storage_stats()
        await store.upkeep.compact(full=True)
        compacted = await store.upkeep.storage_stats()
    finally:
        await store.close()

    after, live = sizes(churned), sizes(compacted)
    rows = {t["name"]: t["rows"] for t in compacted["tables"]}
    print(f"\n{churned['backend']}: after churn -> after VACUUM (FULL), table+indexes")
    for name in sorted(after, key=lambda n: -after[n])[:8]:
        ratio = after[name] / max(live.get(name, 0), 1)
        print(f"  {name:<18} {split(churned, name):>16} -> {split(compacted, name):>16}  "
              f"{ratio:4.2f}x  rows {rows.get(name)}")  # fmt: skip
    print(f"  database: {churned['database']['bytes']:,} B -> {compacted['database']['bytes']:,} B")
    packed = {i["name"]: i["bytes"] for i in compacted["indexes"]}
    for i in churned["indexes"]:
        if i["table"] == "feed_events":
            name, kb = i["name"], i["bytes"] // 1024
            print(f"  index {name}: {kb:,} KB -> {packed[name] // 1024:,} KB")
    over = {n: (after[n], live.get(n, 0)) for n in after if after[n] > 2 * live.get(n, 0) + SLACK}
    assert not over, f"tables beyond 2x their live size: {over}"
    if churned["backend"] == "sqlite":  # exact counts (PostgreSQL's are estimates)
        assert rows["feed_events"] == KEEP
        # the file as a whole too: free pages go back to the file system in steps
        assert churned["database"]["bytes"] <= 2 * compacted["database"]["bytes"] + SLACK


async def test_sqlite_gives_free_pages_back_in_steps(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/ats.db")
    try:
        await store.upkeep.migrate()
        items = [NewFeedEvent(1, "a", FeedType.FINDING, "s", "x" * 2000) for _ in range(100)]
        for _ in range(20):
            await store.feed.publish_feed(items, now_ms())
        full = await store.upkeep.storage_stats()
        await store.feed.clear_feed(None)  # 8 MB of pages free at once
        freed = (await store.upkeep.storage_stats())["database"]
        assert freed["free_pages"] > 1000 and freed["auto_vacuum"] == "incremental"
        steps = 0
        while await store.upkeep.tidy(reaper.TIDY_DEAD_ROWS):
            steps += 1
        left = (await store.upkeep.storage_stats())["database"]
        await store.feed.publish_feed(items[:1], now_ms())
        await store.upkeep.tidy(reaper.TIDY_DEAD_ROWS)  # rows were written since the last round
        busy = (await store.upkeep.storage_stats())["database"]
        await store.upkeep.tidy(reaper.TIDY_DEAD_ROWS)  # none since: idle
        idle = (await store.upkeep.storage_stats())["database"]
    finally:
        await store.close()
    assert steps > 1  # small steps on the event loop, not one long one
    assert left["bytes"] < full["database"]["bytes"] / 2
    assert left["free_pages"] <= max(256, left["bytes"] // left["page_size"] // 5)
    assert busy["wal_bytes"] > 0 and idle["wal_bytes"] == 0  # the WAL is emptied when idle


async def test_db_stats_on_postgresql(pg_url: str) -> None:
    store = await open_store(pg_url)
    try:
        await store.tasks.create_tasks(1, [NewTask(title="one")], ACTOR, now_ms())
        stats = await store.upkeep.storage_stats()
        assert await store.upkeep.tidy(0)  # everything churned is vacuumed at a threshold of 0
    finally:
        await store.close()
    tasks = next(t for t in stats["tables"] if t["name"] == "tasks")
    assert tasks["bytes"] > 0 and tasks["index_bytes"] > 0 and tasks["dead_rows"] is not None
    assert tasks["total_bytes"] >= tasks["bytes"] + tasks["index_bytes"]
    assert stats["database"]["bytes"] > 0
