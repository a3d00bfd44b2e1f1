"""The event scenarios against a running ``ats serve``: paced creation, subscribers, accounting."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.common.cpu import CpuWatch
from bench.common.measure import Tally
from bench.common.wire import Connection, WireError, connect
from bench.events.pool import Received, Subscribers
from bench.events.subscriber import HIST_STEP_MS, RungStats

HOST = "127.0.0.1"
CHANNEL = "bench-ev"
CREATORS = 4  # connections taking the paced slots: one slow answer does not stall the pace


@dataclass(frozen=True)
class EventPlan:
    duration: float = 10.0  # seconds of creation per rung / per create-cost run
    single_rate: float = 200.0  # events/s with one subscriber
    subscribers: int = 500
    rates: tuple[float, ...] = (20.0, 60.0, 100.0, 200.0)  # events/s, at `subscribers`
    processes: int = 2  # subscriber client processes for the many-subscriber ladder


@dataclass
class EventFigure:
    """One paced run: events created at a steady rate, counted at every subscriber."""

    name: str
    subscribers: int
    offered: float  # events/s asked of the creator
    created: int = 0
    create_rate: float = 0.0
    deliveries: int = 0
    delivery_rate: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    stamp_p50_ms: float | None = None  # from the event's created_at instead of payload.t
    stamp_p99_ms: float | None = None
    missing: int = 0  # expected deliveries that never came
    extra: int = 0  # deliveries beyond one per event and subscriber
    wrong: int = 0  # subscribers with the right count but other task ids than were created
    order_violations: int = 0  # an event id not above the previous one on the same connection
    resumes: int = 0  # server closes (1013, or a bare EOF) after which the subscriber resumed
    server_cpu: float | None = None
    client_cpu: float | None = None
    db_cpu: float | None = None  # PostgreSQL processes
    other_cpu: float | None = None  # the rest of the machine: other people's work, the kernel
    create_p99_ms: float | None = None
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def exactly_once(self) -> bool:
        return not (self.missing or self.extra or self.wrong or self.order_violations)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Created:
    ids: list[int]
    started: float  # wall clock of the first send
    seconds: float
    tally: Tally


async def paced_create(port: int, rate: float, duration: float, rung: int) -> Created:
    """``rate`` tasks/s for ``duration`` s (see :func:`paced_post`); ``ids``: the task ids."""

    def body(slot: int) -> dict[str, Any]:
        return {"title": f"bench event {slot}", "channel": CHANNEL,
                "payload": {"t": time.time(), "r": rung}}  # fmt: skip

    return await paced_post(
        port, rate, duration, "/tasks", body, lambda answer: int(answer["id"]), "bench-creator"
    )


async def paced_post(
    port: int,
    rate: float,
    duration: float,
    path: str,
    body: Callable[[int], dict[str, Any]],
    key: Callable[[dict[str, Any]], int],
    who: str,
) -> Created:
    """POST ``body(slot)`` to ``path`` ``rate`` times a second for ``duration`` s; slot i is due
    at start + i/rate. A connection that is late takes the next slot at once; with ``CREATORS``
    connections, a slow server lowers the rate rather than the load bursting. ``Created.ids``
    holds ``key(answer)`` of each 201."""
    conns = [await connect("lean", HOST, port, {"X-Actor-ID": f"{who}-{i}"})
             for i in range(CREATORS)]  # fmt: skip
    tally, ids, slots = Tally(), [], itertools.count()
    total = int(rate * duration)
    t0, started = time.perf_counter() + 0.05, time.time() + 0.05
    deadline = t0 + duration

    async def poster(conn: Connection) -> None:
        # Slots end at ``total``, and nothing is sent after the deadline: a server that cannot
        # keep up gets fewer events, not a longer run.
        while (slot := next(slots)) < total and time.perf_counter() < deadline:
            delay = t0 + slot / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = orjson.dumps(body(slot))
            sent = time.perf_counter()
            try:
                status, answer = await conn.request("POST", path, payload)
            except WireError as exc:
                tally.error(f"POST {path}: {exc}")
                return
            tally.latencies.append(time.perf_counter() - sent)
            tally.statuses[status] += 1
            if status != 201:
                tally.error(f"POST {path} -> {status}: {answer[:300]!r}")
                continue
            ids.append(key(orjson.loads(answer)))
            tally.done += 1

    try:
        await asyncio.gather(*(poster(c) for c in conns))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    return Created(ids, started, time.perf_counter() - t0, tally)


def percentiles(hist: Mapping[int, int], qs: tuple[float, ...]) -> list[float | None]:
    """From a histogram of HIST_STEP_MS steps: the upper edge of the step holding each q."""
    total = sum(hist.values())
    if not total:
        return [None for _ in qs]
    out: list[float | None] = []
    for q in qs:
        rank, seen = min(total - 1, int(q * total)), 0
        for step in sorted(hist):
            seen += hist[step]
            if seen > rank:
                out.append((step + 1) * HIST_STEP_MS)
                break
    return out


def account(fig: EventFigure, created: Created, stats: RungStats | None) -> None:
    """Every subscriber must have got every created event once, and nothing else."""
    expected, id_sum = len(created.ids), sum(created.ids)
    counts = stats.count if stats else [0] * fig.subscribers
    sums = stats.id_sum if stats else [0] * fig.subscribers
    fig.created, fig.create_rate = expected, expected / created.seconds
    fig.missing = sum(max(0, expected - c) for c in counts)
    fig.extra = sum(max(0, c - expected) for c in counts)
    fig.wrong = sum(1 for c, s in zip(counts, sums, strict=True) if c == expected and s != id_sum)
    fig.deliveries = sum(counts)
    if stats is not None and fig.deliveries:
        # From the first receipt to the last: a server that falls behind stretches the window.
        fig.delivery_rate = fig.deliveries / max(created.seconds / 10, stats.last - stats.first)
        fig.p50_ms, fig.p99_ms = percentiles(stats.hist, (0.50, 0.99))
        fig.stamp_p50_ms, fig.stamp_p99_ms = percentiles(stats.stamp_hist, (0.50, 0.99))
        fig.max_ms = stats.max_ms
    lat = sorted(created.tally.latencies)
    if lat:
        fig.create_p99_ms = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000
    fig.errors += created.tally.errors
    fig.error_count += created.tally.error_count
    if fig.create_rate < 0.95 * fig.offered:
        fig.notes.append(
            f"the creator managed {fig.create_rate:,.0f} of {fig.offered:,.0f} events/s: "
            "POST /tasks answered too slowly"
        )


class EventBench:
    def __init__(
        self, port: int, plan: EventPlan, server_cpu: Callable[[], float], log_dir: Path
    ) -> None:
        self.port = port
        self.plan = plan
        self.server_cpu = server_cpu
        self.log_dir = log_dir

    async def single(self) -> EventFigure:
        subs = await Subscribers.start(self.port, 1, 1, CHANNEL, self.log_dir)
        try:
            return await self._paced(subs, "1 subscriber", 0, self.plan.single_rate)
        finally:
            await subs.stop()

    async def ladder(self) -> list[EventFigure]:
        n = self.plan.subscribers
        subs = await Subscribers.start(self.port, n, self.plan.processes, CHANNEL, self.log_dir)
        try:
            figures = []
            for rung, rate in enumerate(self.plan.rates, start=1):
                await asyncio.sleep(1.0)  # let the previous rung's stragglers drain
                figures.append(await self._paced(subs, f"{n} subscribers", rung, rate))
            return figures
        finally:
            await subs.stop()

    async def _paced(self, subs: Subscribers, name: str, rung: int, rate: float) -> EventFigure:
        before = await subs.received()
        watch = CpuWatch(self.server_cpu)
        created = await paced_create(self.port, rate, self.plan.duration, rung)
        waited = await subs.settle(rung, len(created.ids))
        after = await subs.received()
        fig = EventFigure(name, subs.total, rate)
        account(fig, created, after.rungs.get(rung))
        cores = watch.cores(after.cpu - before.cpu)
        fig.server_cpu, fig.client_cpu = cores.server, cores.subscribers
        fig.db_cpu, fig.other_cpu = cores.database, cores.other
        _diff(fig, before, after)
        note = f"POST /tasks p99 {_num(fig.create_p99_ms)} ms"
        if fig.subscribers > 1 and fig.deliveries:
            per = watch.elapsed / fig.deliveries * 1e6  # µs per delivery for each core used
            note += (
                f"; CPU per delivery: server {fig.server_cpu * per:.0f} µs (creation included), "
                f"subscribers {fig.client_cpu * per:.0f} µs"
            )
        fig.notes.append(note + f"; the last delivery came {waited:.1f} s after the last create")
        return fig


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _diff(fig: EventFigure, before: Received, after: Received) -> None:
    fig.order_violations = after.order_violations - before.order_violations
    fig.resumes = after.resumes - before.resumes
    new_errors = after.error_count - before.error_count
    if new_errors:
        fig.error_count += new_errors
        fig.errors += after.errors[len(before.errors) :]
    closes = after.closes - before.closes
    if closes:
        fig.notes.append("server closes: " + ", ".join(f"{n} with {c}" for c, n in closes.items()))
    if after.open < fig.subscribers:
        fig.notes.append(f"only {after.open} of {fig.subscribers} subscribers still connected")
