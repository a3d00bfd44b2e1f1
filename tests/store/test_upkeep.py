"""Steady churn keeps every table within ~2x of its live size (SPEC §9.1), on both backends.

A bounded churn — 20,000 tasks created, claimed and completed, 20,000 activity-feed publishes
under a retention of 1,000 — runs through the store with the server's own upkeep steps between
rounds (feed retention, the reaper's fold and tidy). Then each table (with its indexes) is
compared with its size after ``VACUUM FULL`` (PostgreSQL) / ``VACUUM`` (SQLite), and the figures
are printed (``pytest -s`` shows them). The churn is the benchmark's (``python -m bench run
churn``, which runs it at 1,000,000).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from ats.models import FeedType, now_ms
from ats.service import reaper
from ats.store import NewTask, open_store
from ats.store.base import NewFeedEvent
from bench.scale.churn import ACTOR, SLACK, Plan, churn, compare

PLAN = Plan(cycles=20_000, publishes=20_000, keep=1_000, round=100, claim=10)


@pytest.mark.serial  # vacuum timing: a loaded machine delays it
@pytest.mark.timeout(300)
async def test_tables_stay_within_twice_their_live_size_under_churn(db_url: str) -> None:
    store = await open_store(db_url, pool_size=5)
    try:
        await churn(store, PLAN)
        churned = await store.upkeep.storage_stats()
        await store.upkeep.compact(full=True)
        compacted = await store.upkeep.storage_stats()
    finally:
        await store.close()

    lines, over = compare(churned, compacted)
    print("\n" + "\n".join(lines))
    packed = {i["name"]: i["bytes"] for i in compacted["indexes"]}
    for i in churned["indexes"]:
        if i["table"] == "feed_events":
            name, kb = i["name"], i["bytes"] // 1024
            print(f"  index {name}: {kb:,} KB -> {packed[name] // 1024:,} KB")
    assert not over, f"tables beyond 2x their live size: {over}"
    rows = {t["name"]: t["rows"] for t in compacted["tables"]}
    if churned["backend"] == "sqlite":  # exact counts (PostgreSQL's are estimates)
        assert rows["feed_events"] == PLAN.keep
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


async def test_postgresql_statistics_are_kept_fresh_without_autovacuum(pg_url: str) -> None:
    # This machine's PostgreSQL runs with autovacuum off: the planner would keep describing an
    # empty table while it holds thousands of tasks. tidy() analyzes what changed a twentieth.
    store = await open_store(pg_url)
    try:
        specs = [NewTask(title=f"t{i}") for i in range(1500)]
        await store.tasks.create_tasks(1, specs, ACTOR, now_ms())
        conn = await asyncpg.connect(pg_url)
        try:
            for _ in range(50):  # the statistics collector reports a little late
                if await store.upkeep.tidy(reaper.TIDY_DEAD_ROWS):
                    break
                await asyncio.sleep(0.1)
            analyzed = await conn.fetchval(
                "SELECT greatest(last_analyze, last_autoanalyze) IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname = 'tasks'"
            )
        finally:
            await conn.close()
    finally:
        await store.close()
    assert analyzed
