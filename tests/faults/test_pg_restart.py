"""PostgreSQL restarted under load, with two servers on it (SPEC §9, §10).

A private cluster (never the shared one) is stopped — cleanly, then as if it crashed, in turn —
and started again ``ATS_CHAOS_ROUNDS`` times while 8 clients write through two ``ats serve``
processes. Clients must see the outage as ``503`` JSON (no 500, no hang), both servers must
recover by themselves, nothing acknowledged may be lost, and ``ats watch -f json``, a WebSocket
client and an SSE client must each get every event exactly once, in order, across the restarts.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.acceptance.test_watch import Watcher
from tests.faults.followers import Follower, follow_sse, follow_ws
from tests.faults.harness import ROUNDS, Server, all_tasks, event_log, per_round_timeout
from tests.faults.load import Make, Tally, client, outage, work, write
from tests.faults.pgcluster import PgCluster

# serial: heavy (kills, restarts, 8 clients); scripts/test runs these alone, after the rest
pytestmark = [pytest.mark.faults, pytest.mark.serial, per_round_timeout(15)]

DOWN_S = 1.0  # how long the database stays away each round
RUN_S = 1.0  # load between restarts


def _creates(server: str) -> Make:
    return lambda w, n: ("/tasks", {"title": f"{server}-{w}-{n}"})


async def test_postgres_restarts_under_load_on_two_servers(
    pg_cluster: PgCluster, cluster_db: str, tmp_path: Path
) -> None:
    a = Server(cluster_db, tmp_path, "--reaper-interval", "0.2")
    b = Server(cluster_db, tmp_path, "--reaper-interval", "0.2")
    watcher: Watcher | None = None
    readers: list[asyncio.Task[None]] = []
    try:
        a.start()
        b.start()
        watcher = Watcher(a.url, "-f", "json", "--since", "0")
        watcher.ready()
        ws, sse = Follower("websocket"), Follower("sse")
        readers = [
            asyncio.create_task(follow_ws(b.url, ws)),
            asyncio.create_task(follow_sse(a.url, sse)),
        ]
        stop = asyncio.Event()
        loads = [
            asyncio.create_task(write(a.url, _creates("a"), stop, writers=3, until_gone=False)),
            asyncio.create_task(write(b.url, _creates("b"), stop, writers=3, until_gone=False)),
        ]
        workers = [
            asyncio.create_task(work(url, "default", 60_000, stop, workers=1, until_gone=False))
            for url in (a.url, b.url)
        ]
        restarts: list[tuple[float, float]] = []
        for round_ in range(ROUNDS):
            await asyncio.sleep(RUN_S)
            mode = ("fast", "immediate")[round_ % 2]
            down = time.monotonic()
            await asyncio.to_thread(pg_cluster.stop, mode)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(pg_cluster.start)
            restarts.append((down, time.monotonic()))
        await asyncio.sleep(2 * RUN_S)  # long enough for both servers to be back
        stop.set()
        tally = Tally()
        for t in await asyncio.gather(*loads):
            tally.merge(t)
        done = await asyncio.gather(*workers)
        for d in done:
            tally.merge(d.tally)

        # --- every client saw the outage as 503 JSON, fast; both servers came back ----------
        assert tally.unexpected == [], tally.unexpected[:5]
        assert tally.statuses[503] > 0, f"no client noticed the restarts: {tally.statuses}"
        slowest = max(end - sent for sent, end, status in tally.answers if status == 503)
        figures = []
        for down, up in restarts:
            seen = outage(tally.answers, down, up)
            assert seen is not None, "nobody noticed a restart"
            refused, lag = seen
            assert lag < 10, "no recovery within 10 s of the database's return"
            figures.append(f"down {up - down:.1f}s, refused {refused:.1f}s, back +{lag:.2f}s")
        last_up = restarts[-1][1]
        for server, t in zip((a, b), loads, strict=True):
            back = [x for x in t.result().answers if x[0] > last_up and 200 <= x[2] < 300]
            assert back, f"{server.url} did not recover by itself"
        for server in (a, b):
            assert "unhandled error" not in server.log_text(), server.log_text()[-3000:]

        # --- nothing acknowledged lost, nothing twice ----------------------------------------
        async with client(a.url) as c:
            tasks = {t["id"]: t for t in await all_tasks(c)}
            log = await event_log(c)
        titles = Counter(t["title"] for t in tasks.values())
        assert [t for t, n in titles.items() if n > 1] == []
        lost = [
            x for x in tally.acked.values() if tasks.get(x["id"], {}).get("title") != x["title"]
        ]
        assert lost == [], f"{len(lost)} of {len(tally.acked)} acknowledged tasks lost"
        completed = set().union(*(d.completed for d in done))
        assert all(tasks[i]["status"] == "completed" for i in completed)

        # --- every live reader got every event exactly once, in order ------------------------
        expected = [e["id"] for e in log]
        for follower in (ws, sse):
            await follower.reached(expected[-1], within=20)
            assert follower.ids == expected, follower.name
        got: list[int] = []
        while not got or got[-1] < expected[-1]:
            got.append(json.loads(watcher.next(timeout=20)[1])["event_id"])
        assert got == expected, "ats watch"
        print(
            f"{ROUNDS} restarts ({'; '.join(figures)}); slowest 503 {slowest * 1000:.0f} ms; "
            f"answers {dict(tally.statuses)}; {len(tally.acked)} creates and {len(completed)} "
            f"completions acknowledged, 0 lost; {len(expected)} events, each once and in order "
            f"to ats watch, WebSocket ({ws.reconnects} reconnects) and SSE "
            f"({sse.reconnects} reconnects)"
        )
    finally:
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        if watcher is not None and watcher.proc.poll() is None:
            watcher.stop(signal.SIGKILL)
        a.stop()
        b.stop()
