"""Bloat under churn (SPEC §9.1): does every table stay within 2x of its live size?

Per backend, in a fresh database, through the store (no HTTP: the point is what the tables look
like afterwards, and this gets there in minutes): ``--cycles`` tasks created, claimed and
completed, ``--publishes`` activity-feed events under a retention of ``--keep``, and event-log
retention keeping the last ``--events-keep-s`` seconds — with the server's own upkeep steps
(feed retention, event trim, the reaper's fold and tidy) after every round, as ``ats serve`` runs
them beside the requests. Then each table with its indexes is compared with its size after
``VACUUM FULL`` (PostgreSQL) / ``VACUUM`` (SQLite).

    .venv/bin/python -m bench run churn [--backend sqlite|postgres|both]
        [--cycles 1000000] [--publishes 1000000] [--keep 10000] [--round 1000]

``tests/store/test_upkeep.py`` runs the same churn at 20,000 and asserts the 2x.
Exit status 0 when every table is within 2x (plus a few pages), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Any

from ats.lifecycle import Action, Complete
from ats.models import Actor, ActorType, FeedType, Millis, now_ms
from ats.service import reaper, retention
from ats.store import NewTask, Store, open_store
from ats.store.base import NewFeedEvent
from bench.common.target import PG_ADMIN, Backend, fresh_database

ACTOR = Actor(ActorType.AGENT, "churner", "Churner")
# Page and fork granularity: a one-row table is a few pages either way, and once vacuumed a
# PostgreSQL table grows a visibility map (8 KB) and free-space maps (24 KB for it and for each
# index with recyclable pages) that VACUUM FULL starts without.
SLACK = 128 * 1024


@dataclass(frozen=True)
class Plan:
    cycles: int  # tasks created, claimed and completed
    publishes: int  # feed events published
    keep: int  # feed retention: the newest events kept per project
    round: int = 100  # cycles (and publishes) between two upkeep steps
    claim: int = 100  # tasks claimed (then completed) at a time
    events_keep_ms: int | None = None  # event-log retention; None keeps every event


async def upkeep(store: Store, plan: Plan) -> None:
    """One round of what ``ats serve`` runs beside the requests every second: feed retention
    (service/feed.py), event retention (service/retention.py), the reaper's fold and tidy."""
    await store.feed.trim_feed(plan.keep)
    if plan.events_keep_ms is not None:
        await retention.trim_once(store, Millis(now_ms() - plan.events_keep_ms))
    await store.upkeep.fold_counts()
    await store.upkeep.tidy(reaper.TIDY_DEAD_ROWS)


async def churn(store: Store, plan: Plan, progress: Any = None) -> None:
    """Upkeep at fixed points, not on a clock, so the figures do not depend on how fast the
    machine is: a round stands for one second of a server doing ``plan.round`` cycles."""
    claim = min(plan.claim, plan.round)
    rounds = max(plan.cycles, plan.publishes) // plan.round
    for r in range(rounds):
        if r * plan.round < plan.cycles:
            specs = [NewTask(title=f"churn {r}-{i}", payload={"i": i}) for i in range(plan.round)]
            await store.tasks.create_tasks(1, specs, ACTOR, now_ms())
            claimed = 0
            while claimed < plan.round:
                got = await store.tasks.claim_next(1, None, None, 60_000, claim, ACTOR, now_ms())
                claimed += len(got)
                done: list[tuple[int, Action]] = [(t.id, Complete({"ok": True})) for t in got]
                await store.tasks.transition_many(1, done, ACTOR, now_ms())
        if r * plan.round < plan.publishes:
            for b in range(0, plan.round, 10):
                items = [
                    NewFeedEvent(1, f"agent-{i % 7}", FeedType.FINDING, f"step {r}-{b + i}")
                    for i in range(10)
                ]
                await store.feed.publish_feed(items, now_ms())
        await upkeep(store, plan)
        if progress is not None:
            progress(r + 1, rounds)


def sizes(stats: dict[str, Any]) -> dict[str, int]:
    return {t["name"]: int(t["total_bytes"] or 0) for t in stats["tables"]}


def split(stats: dict[str, Any], name: str) -> str:
    """ "table + indexes" in KB, for the printed figures."""
    t = next(t for t in stats["tables"] if t["name"] == name)
    return f"{(t['bytes'] or 0) // 1024:,}+{(t['index_bytes'] or 0) // 1024:,} KB"


def compare(churned: dict[str, Any], compacted: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Printable lines (largest tables first) and the names of tables beyond 2x + SLACK."""
    after, live = sizes(churned), sizes(compacted)
    rows = {t["name"]: t["rows"] for t in compacted["tables"]}
    lines = [f"{churned['backend']}: after churn -> after VACUUM (FULL), table+indexes"]
    for name in sorted(after, key=lambda n: -after[n])[:10]:
        ratio = after[name] / max(live.get(name, 0), 1)
        lines.append(
            f"  {name:<20} {split(churned, name):>18} -> {split(compacted, name):>18}  "
            f"{ratio:4.2f}x  rows {rows.get(name)}"
        )
    before_db, after_db = churned["database"]["bytes"], compacted["database"]["bytes"]
    lines.append(f"  database: {before_db:,} B -> {after_db:,} B")
    over = [n for n in after if after[n] > 2 * live.get(n, 0) + SLACK]
    return lines, over


async def measure(url: str, plan: Plan) -> tuple[list[str], list[str]]:
    store = await open_store(url, pool_size=5)
    try:
        await store.upkeep.migrate()
        started, last = time.monotonic(), [0.0]

        def progress(done: int, rounds: int) -> None:
            if time.monotonic() - last[0] > 30:
                last[0] = time.monotonic()
                print(
                    f"  round {done:,}/{rounds:,}, {time.monotonic() - started:.0f} s", flush=True
                )

        await churn(store, plan, progress)
        took = time.monotonic() - started
        churned = await store.upkeep.storage_stats()
        t0 = time.monotonic()
        await store.upkeep.compact(full=True)
        vacuum = time.monotonic() - t0
        compacted = await store.upkeep.storage_stats()
    finally:
        await store.close()
    lines, over = compare(churned, compacted)
    lines.insert(1, f"  churn {took:.0f} s, VACUUM {vacuum:.0f} s")
    return lines, over


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--cycles", type=int, default=1_000_000)
    parser.add_argument("--publishes", type=int, default=1_000_000)
    parser.add_argument("--keep", type=int, default=10_000)
    parser.add_argument("--round", type=int, default=1_000)
    parser.add_argument("--events-keep-s", type=float, default=60.0)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN)
    args = parser.parse_args(argv)
    plan = Plan(
        cycles=args.cycles,
        publishes=args.publishes,
        keep=args.keep,
        round=args.round,
        events_keep_ms=int(args.events_keep_s * 1000),
    )
    backends: list[Backend] = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        async with fresh_database(backend, args.pg_admin_url) as url:
            print(f"{backend}: {plan}", flush=True)
            lines, over = await measure(url, plan)
        print("\n".join(lines), flush=True)
        if over:
            print(f"  beyond 2x: {', '.join(over)}")
            failed = True
    return 1 if failed else 0


def run(argv: list[str]) -> int:
    """The entry point of ``python -m bench run churn``."""
    return asyncio.run(main(argv))
