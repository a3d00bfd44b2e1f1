"""``kill -9`` of a real server under load loses nothing it acknowledged (SPEC §10).

Each test kills the same database's server ``ATS_CHAOS_ROUNDS`` times at a random moment under 8
concurrent clients, starts it again, and compares the database with the acknowledged writes:
0 lost, 0 twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from ats.models import parse_iso
from tests.faults.harness import (
    ROUNDS,
    Server,
    all_tasks,
    check_creates,
    event_log,
    feed_log,
    per_round_timeout,
)
from tests.faults.load import Make, Work, client, kill_soon, until_killed, work

# serial: heavy (kills, restarts, 8 clients); scripts/test runs these alone, after the rest
pytestmark = [pytest.mark.faults, pytest.mark.serial, per_round_timeout(20)]


def _creates(round_: int) -> Make:
    return lambda w, n: ("/tasks", {"title": f"{round_}-{w}-{n}"})


def _publishes(round_: int) -> Make:
    return lambda w, n: (
        "/feed/events",
        {"agent": f"agent-{w}", "type": "custom", "summary": f"{round_}-{w}-{n}"},
    )


async def test_kill9_under_creators_loses_no_task(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, tmp_path)
    acked: list[dict[str, Any]] = []
    for round_ in range(ROUNDS):
        server.start()
        tally = await until_killed(server, _creates(round_))
        assert len(tally.acked) > 20, "the load never got going"
        print(f"round {round_}: {len(tally.acked)} creates acknowledged")
        acked += tally.acked.values()
    server.start()
    try:
        async with client(server.url) as c:
            stored = await check_creates(c, acked)
    finally:
        server.stop()
    print(f"{len(acked)} acknowledged, {stored} stored, 0 lost, 0 duplicates")


async def test_kill9_under_feed_publishers_loses_no_event(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, tmp_path, "--feed-retention", "0")
    acked: list[dict[str, object]] = []
    for round_ in range(ROUNDS):
        server.start()
        tally = await until_killed(server, _publishes(round_))
        assert len(tally.acked) > 20, "the load never got going"
        print(f"round {round_}: {len(tally.acked)} feed events acknowledged")
        acked += tally.acked.values()
    server.start()
    try:
        async with client(server.url) as c:
            events = await feed_log(c)
    finally:
        server.stop()
    assert len({e["id"] for e in events}) == len(events)
    summaries = Counter(e["summary"] for e in events)
    assert [s for s, n in summaries.items() if n > 1] == []  # 0 duplicates
    kept = {e["id"]: e["summary"] for e in events}
    lost = [a for a in acked if kept.get(a["id"]) != a["summary"]]
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged feed events lost"
    print(f"{len(acked)} acknowledged, {len(events)} stored, 0 lost, 0 duplicates")


LEASE_MS = 3000
TASKS_PER_ROUND = 1000


async def test_kill9_during_claims_keeps_completions_and_leases(
    db_url: str, tmp_path: Path
) -> None:
    """Acknowledged completions stay completed; leases held at the kill survive the restart and
    come back (pending again, one ``task.lease_expired`` each) when they expire."""
    server = Server(db_url, tmp_path, "--reaper-interval", "0.1")
    rounds: list[Work] = []
    try:
        for round_ in range(ROUNDS):
            server.start()
            async with client(server.url) as c:
                if round_:  # the restart after the previous round's kill
                    await _check_restart(c, rounds[-1])
                batch = [{"title": f"{round_}-{i}", "channel": f"r{round_}"} for i in range(500)]
                for _ in range(TASKS_PER_ROUND // len(batch)):
                    r = await c.post("/tasks/bulk", json={"tasks": batch})
                    assert r.status_code == 201, r.text
            killer = kill_soon(server)
            done = await work(
                server.url, f"r{round_}", LEASE_MS, asyncio.Event(), hold_every=5, until_gone=True
            )
            await killer
            assert done.tally.unexpected == [], done.tally.unexpected[:5]
            assert len(done.completed) > 10, "the load never got going"
            held = len(done.claimed) - len(done.completed)
            print(f"round {round_}: {len(done.completed)} completions acknowledged, {held} held")
            rounds.append(done)
        server.start()
        async with client(server.url) as c:
            await _check_restart(c, rounds[-1])
            # every lease has run out by now, plus a few reaper rounds
            deadline = max(_expires(t) for w in rounds for t in w.claimed.values()) + 2.0
            await asyncio.sleep(max(0.0, deadline - time.time()))
            tasks = {t["id"]: t for t in await all_tasks(c)}
            expiries = await event_log(c, event="task.lease_expired")
    finally:
        server.stop()
    expired = Counter(e["task_id"] for e in expiries)
    assert all(n == 1 for n in expired.values()), "a lease expired twice"
    reaped_at = {e["task_id"]: parse_iso(e["created_at"]) / 1000 for e in expiries}
    for done in rounds:
        for task_id in done.completed:
            assert tasks[task_id]["status"] == "completed", tasks[task_id]
        for task_id in set(done.claimed) - done.completed:
            status = tasks[task_id]["status"]
            # a completion that was on its way at the kill may have landed; nothing else did
            allowed = {"pending", "completed"} if task_id in done.completing else {"pending"}
            assert status in allowed, tasks[task_id]
            assert expired[task_id] == (status == "pending"), tasks[task_id]
            if status == "pending":  # back when its lease ran out, not before
                assert reaped_at[task_id] >= _expires(done.claimed[task_id]), tasks[task_id]


def _expires(task: dict[str, Any]) -> float:
    return parse_iso(str(task["lease_expires"])) / 1000


async def _check_restart(c: httpx.AsyncClient, done: Work) -> None:
    """Right after the restart: acknowledged completions are completed; leases that have not
    run out yet are still held, with the same token."""
    for task_id in done.completed:
        r = await c.get(f"/tasks/{task_id}")
        assert r.json()["status"] == "completed", r.text
    still_held = 0
    for task_id, claimed in done.claimed.items():
        if task_id in done.completed or task_id in done.completing:
            continue
        task = (await c.get(f"/tasks/{task_id}")).json()
        if task["status"] == "in_progress":
            assert task["lease_token"] == claimed["lease_token"], task
            still_held += 1
        else:  # reaped: only once its lease ran out (the end checks the reaper's clock)
            assert time.time() >= _expires(claimed), task
    print(f"after the restart: {len(done.completed)} completions kept, {still_held} leases held")
