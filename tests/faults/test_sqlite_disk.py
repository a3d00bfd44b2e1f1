"""SQLite without its disk: the file turned read-only, the disk full (SPEC §10).

Under 8 clients writing (tasks, feed events, claims and completions), the fault is put on and
taken off ``ATS_CHAOS_ROUNDS`` times. While it is on, writes are answered ``503 {"error": …}``
at once (never a 500, never a hang) and reads still work; once it is off, writes succeed again
without a restart, and nothing acknowledged is missing, then or after a restart.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.disk import stage
from tests.faults.harness import ROUNDS, Server, all_tasks, feed_log, per_round_timeout
from tests.faults.load import Make, Tally, Work, client, work, write

# serial: heavy (kills, restarts, 8 clients); scripts/test runs these alone, after the rest
pytestmark = [pytest.mark.faults, pytest.mark.serial, per_round_timeout(10)]

READS = ["/health", "/tasks", "/tasks/1", "/events", "/feed/events", "/tasks/stats"]


def _creates(w: int, n: int) -> tuple[str, dict[str, object]]:
    return "/tasks", {"title": f"{w}-{n}"}


def _publishes(w: int, n: int) -> tuple[str, dict[str, object]]:
    return "/feed/events", {"agent": f"agent-{w}", "type": "custom", "summary": f"{w}-{n}"}


@pytest.mark.parametrize("fault", ["read-only", "disk-full"])
async def test_sqlite_without_its_disk_answers_503_and_recovers(fault: str, tmp_path: Path) -> None:
    trouble = stage(fault, tmp_path)
    server = Server(
        f"sqlite:///{trouble.dir}/ats.db", tmp_path, "--feed-retention", "0",
        "--reaper-interval", "0.2",
    )  # fmt: skip
    try:
        server.start()
        stop = asyncio.Event()
        makes: list[tuple[Make, int]] = [(_creates, 3), (_publishes, 3)]
        writers = [asyncio.create_task(write(server.url, m, stop, writers=n, until_gone=False))
                   for m, n in makes]  # fmt: skip
        worker = asyncio.create_task(
            work(server.url, "default", 60_000, stop, workers=2, until_gone=False)
        )
        figures = []
        mended: list[dict[str, Any]] = []
        async with client(server.url) as c:
            for _ in range(ROUNDS):
                await asyncio.sleep(0.7)
                on = time.monotonic()
                trouble.apply(server)
                await asyncio.sleep(0.5)
                for path in READS:  # reads go on
                    r = await c.get(path)
                    assert r.status_code == 200, (path, r.status_code, r.text)
                r = await c.post("/tasks", json={"title": "while broken"})
                assert r.status_code == 503 and "error" in r.json(), r.text
                off = time.monotonic()
                trouble.lift(server)
                r = await c.post("/tasks", json={"title": "mended"})
                assert r.status_code == 201, f"no recovery without a restart: {r.text}"
                mended.append(r.json())
                figures.append(f"{off - on:.1f}s")
            await asyncio.sleep(0.5)
        stop.set()
        tallies = [await w for w in writers]
        done: Work = await worker
        tally = Tally()
        for t in [*tallies, done.tally]:
            tally.merge(t)
        assert tally.unexpected == [], tally.unexpected[:5]
        assert tally.statuses[503] >= ROUNDS, tally.statuses
        slowest = max(end - sent for sent, end, status in tally.answers if status == 503)
        await _check(server, tallies, done, mended)
        server.stop()
        server.start()  # and all of it is still there after a restart
        await _check(server, tallies, done, mended)
        print(
            f"{fault} by {trouble.mechanism}: {ROUNDS} rounds, on for {', '.join(figures)}, "
            "the first write after each answered 201; "
            f"answers {dict(tally.statuses)}, slowest 503 {slowest * 1000:.0f} ms; "
            f"{len(tallies[0].acked)} creates, "
            f"{len(tallies[1].acked)} feed events, {len(done.completed)} completions "
            "acknowledged, 0 lost"
        )
    finally:
        server.stop()
        trouble.cleanup()


async def _check(
    server: Server, tallies: list[Tally], done: Work, mended: list[dict[str, Any]]
) -> None:
    async with client(server.url) as c:
        tasks = {t["id"]: t for t in await all_tasks(c)}
        feed = {e["id"]: e for e in await feed_log(c)}
    creates, publishes = tallies
    lost = [
        a
        for a in [*creates.acked.values(), *mended]
        if tasks.get(a["id"], {}).get("title") != a["title"]
    ]
    assert lost == [], f"{len(lost)} of {len(creates.acked)} acknowledged tasks lost"
    lost = [a for a in publishes.acked.values() if a["id"] not in feed]
    assert lost == [], f"{len(lost)} of {len(publishes.acked)} acknowledged feed events lost"
    assert all(tasks[i]["status"] == "completed" for i in done.completed)
