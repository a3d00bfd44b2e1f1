"""The feed scenarios against a running ``ats serve``: publish vs create throughput, and paced
publishing to SSE subscribers with exactly-once accounting (SPEC §7)."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.common.cpu import Cores, CpuWatch
from bench.common.http_load import HttpBench
from bench.common.measure import Figure, Tally
from bench.common.wire import Connection
from bench.events.load import Created, EventFigure, account, paced_post
from bench.events.pool import Received, Subscribers
from bench.feed.subscriber import ENDED, LOST

HOST = "127.0.0.1"
SUBSCRIBER = "bench.feed.subscriber"
LATENCY_AGENT = "bench-latency"


@dataclass(frozen=True)
class FeedPlan:
    duration: float = 10.0  # seconds per throughput row and per paced row
    clients: tuple[int, ...] = (1, 8)  # connections of the throughput rows
    rate: float = 100.0  # events/s of the paced publisher
    subscribers: int = 200
    processes: int = 2  # subscriber client processes for the many-subscriber row


@dataclass
class ThroughputRow:
    """One back-to-back run: ``POST /tasks`` or ``POST /feed/events`` from ``clients``
    connections. Each publish run sits between two create runs with the same clients; ``base``
    is their mean (for a create run: the mean of both, so ``ratio`` shows the drift)."""

    name: str
    kind: str  # "create" or "publish"
    clients: int
    figure: Figure
    cores: Cores
    base: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.figure.rate / self.base if self.base else None

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "kind": self.kind,
            "clients": self.clients,
            "vs_create": self.ratio,
            "create_base": self.base,
            **self.figure.as_json(),
            "cores": self.cores.__dict__,
        }


WARM_UP = 200  # untimed requests of each kind before the first row (a fresh server and database)


class Throughput(HttpBench):
    """Back-to-back POSTs over the lean client of wire.py, counted like http_load's create."""

    async def warm_up(self) -> Tally:
        """A few creates and publishes, untimed: the first row should not pay for the first
        requests of a fresh process (imports, prepared statements, caches)."""
        tally = Tally()
        [conn] = await self._connections(1, "bench-warm-up")
        try:
            for kind, path in (("create", "/tasks"), ("publish", "/feed/events")):
                for _ in range(WARM_UP):
                    await self._call(conn, tally, "POST", path, _body(kind, 0), 201)
        finally:
            await conn.close()
        return tally

    async def rows(self, clients: int) -> list[ThroughputRow]:
        """create, publish, create: the tables grow and the box is noisy, so the publish run is
        compared with the mean of the create runs just before and after it."""
        rows = [
            await self.row("create", clients, "before"),
            await self.row("publish", clients),
            await self.row("create", clients, "after"),
        ]
        creates = [rows[0].figure.rate, rows[2].figure.rate]
        base = sum(creates) / 2 if all(creates) else None
        for row in rows:
            row.base = base
        return rows

    async def row(self, kind: str, clients: int, when: str = "") -> ThroughputRow:
        path = "/tasks" if kind == "create" else "/feed/events"
        conns = await self._connections(clients, f"bench-{kind}")
        bodies = [_body(kind, i) for i in range(clients)]

        async def worker(conn: Connection, tally: Tally, deadline: float) -> None:
            body = bodies[conns.index(conn)]
            while time.perf_counter() < deadline and tally.requests < self.plan.create_max:
                if await self._call(conn, tally, "POST", path, body, 201) is not None:
                    tally.done += 1

        watch = CpuWatch(self.server_cpu)
        try:
            figure = await self._run(kind, "req/s", conns, worker)
        finally:
            await asyncio.gather(*(c.close() for c in conns))
        name = f"{kind}, {clients} client{'s' if clients > 1 else ''}"
        return ThroughputRow(
            f"{name} ({when})" if when else name, kind, clients, figure, watch.cores(0.0)
        )


def _body(kind: str, client: int) -> bytes:
    if kind == "create":
        return orjson.dumps({"title": f"bench create {client}"})
    return orjson.dumps(
        {"agent": f"bench-publisher-{client}", "type": "custom", "summary": "bench publish"}
    )


async def paced_publish(port: int, rate: float, duration: float, rung: int) -> Created:
    """``rate`` events/s for ``duration`` s, paced as ``bench.events.load.paced_post`` does.
    ``Created.ids`` holds the CRC-32 of each acknowledged event id (what the subscribers sum
    too)."""

    def body(slot: int) -> dict[str, Any]:
        return {"agent": LATENCY_AGENT, "type": "custom", "summary": f"bench event {slot}",
                "metadata": {"t": time.time(), "r": rung}}  # fmt: skip

    return await paced_post(
        port, rate, duration, "/feed/events", body,
        lambda answer: zlib.crc32(answer["id"].encode()), "bench-publisher",
    )  # fmt: skip


@dataclass
class Latency:
    """Paced publishing to 1 and to many SSE subscribers."""

    port: int
    plan: FeedPlan
    server_cpu: Callable[[], float]
    log_dir: Path

    async def single(self) -> EventFigure:
        subs = await self._start(1, 1)
        try:
            return await self._paced(subs, "1 subscriber", 0)
        finally:
            await subs.stop()

    async def many(self) -> EventFigure:
        subs = await self._start(self.plan.subscribers, self.plan.processes)
        try:
            return await self._paced(subs, f"{self.plan.subscribers} subscribers", 1)
        finally:
            await subs.stop()

    async def _start(self, total: int, processes: int) -> Subscribers:
        return await Subscribers.start(
            self.port, total, processes, None, self.log_dir, script=SUBSCRIBER
        )

    async def _paced(self, subs: Subscribers, name: str, rung: int) -> EventFigure:
        before = await subs.received()
        watch = CpuWatch(self.server_cpu)
        created = await paced_publish(self.port, self.plan.rate, self.plan.duration, rung)
        waited = await subs.settle(rung, len(created.ids))
        after = await subs.received()
        fig = EventFigure(name, subs.total, self.plan.rate)
        account(fig, created, after.rungs.get(rung))
        # account() speaks of tasks: the slow-publisher note is about the feed here.
        fig.notes = [n.replace("creator", "publisher").replace("POST /tasks", "POST /feed/events")
                     for n in fig.notes]  # fmt: skip
        cores = watch.cores(after.cpu - before.cpu)
        fig.server_cpu, fig.client_cpu = cores.server, cores.subscribers
        fig.db_cpu, fig.other_cpu = cores.database, cores.other
        _diff(fig, before, after)
        p99 = "-" if fig.create_p99_ms is None else f"{fig.create_p99_ms:.1f}"
        note = f"POST /feed/events p99 {p99} ms"
        if fig.deliveries:
            per = watch.elapsed / fig.deliveries * 1e6  # µs per delivery for each core used
            note += (
                f"; CPU per delivery: server {fig.server_cpu * per:.0f} µs (publishing included), "
                f"subscribers {fig.client_cpu * per:.0f} µs"
            )
        fig.notes.append(note + f"; the last delivery came {waited:.1f} s after the last publish")
        return fig


def _diff(fig: EventFigure, before: Received, after: Received) -> None:
    """What the subscribers counted during this row besides deliveries (cf. bench.events.load)."""
    fig.order_violations = after.order_violations - before.order_violations
    fig.resumes = after.resumes - before.resumes
    new_errors = after.error_count - before.error_count
    if new_errors:
        fig.error_count += new_errors
        fig.errors += after.errors[len(before.errors) :]
    closes = after.closes - before.closes
    if closes[ENDED]:
        fig.notes.append(f"streams ended by the server (too far behind): {closes[ENDED]}")
    if closes[LOST]:
        fig.notes.append(f"connections lost without the last chunk: {closes[LOST]}")
    if after.open < fig.subscribers:
        fig.notes.append(f"only {after.open} of {fig.subscribers} subscribers still connected")
