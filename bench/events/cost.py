"""What subscribers cost task creation: the create scenario of http_load, with and without them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common.cpu import Cores, CpuWatch
from bench.common.http_load import HttpBench
from bench.common.measure import Figure, Plan
from bench.events.pool import Subscribers
from bench.events.subscriber import UNTAGGED
from bench.events.wire import ABNORMAL, open_ws

STALLED_RCVBUF = 4096  # bytes (the kernel doubles it); set before connecting, it caps the window
STALL_READ_TIMEOUT = 15.0  # seconds to read what the server kept for the stalled subscriber


@dataclass
class CostRow:
    name: str
    figure: Figure  # from HttpBench.create: 64 connections POSTing /tasks back to back
    cores: Cores
    baseline: bool = False  # a run without a subscriber
    base: float | None = None  # creates/s this row is compared with

    @property
    def ratio(self) -> float | None:
        return self.figure.rate / self.base if self.base else None

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "vs_base": self.ratio,
            "base": self.base,
            **self.figure.as_json(),
            "cores": self.cores.__dict__,
        }


class CreateCost:
    def __init__(
        self, port: int, duration: float, server_cpu: Callable[[], float], log_dir: Path
    ) -> None:
        self.port = port
        self.server_cpu = server_cpu
        self.log_dir = log_dir
        self.bench = HttpBench(port, Plan(duration=duration), "lean", server_cpu)

    async def run(self) -> list[CostRow]:
        """Each run with a subscriber between two without: creation drifts within a run (the
        tables grow), so each is compared with the mean of the runs just before and after it.
        The baseline runs are compared with the mean of all three (that is the drift)."""
        rows = [
            await self._create("no subscriber"),
            await self._reading(),
            await self._create("no subscriber, again"),
            await self._stalled(),
            await self._create("no subscriber, third"),
        ]
        baselines = [row.figure.rate for row in rows if row.baseline]
        for i, row in enumerate(rows):
            if row.baseline:
                row.base = sum(baselines) / len(baselines)
            else:
                row.base = (rows[i - 1].figure.rate + rows[i + 1].figure.rate) / 2
        return rows

    async def _create(self, name: str) -> CostRow:
        """A run without a subscriber (the never-reading one is invisible to this process)."""
        watch = CpuWatch(self.server_cpu)
        fig = await self.bench.create()
        return CostRow(name, fig, watch.cores(0.0), baseline=True)

    async def _reading(self) -> CostRow:
        """One subscriber, no filter, in its own process; it must get every task.created once."""
        subs = await Subscribers.start(self.port, 1, 1, None, self.log_dir)
        try:
            before = await subs.received()
            watch = CpuWatch(self.server_cpu)
            fig = await self.bench.create()
            during = await subs.received()
            row = CostRow("1 subscriber, reads all", fig, watch.cores(during.cpu - before.cpu))
            expected = fig.statuses.get("201", 0)
            await subs.settle(UNTAGGED, expected)
            after = await subs.received()
        finally:
            await subs.stop()
        stats = after.rungs.get(UNTAGGED)
        got = stats.count[0] if stats else 0
        fig.notes.append(f"the subscriber got {got:,} task.created events for {expected:,} creates")
        problems = list(after.errors)
        if got != expected:
            problems.append(f"reading subscriber: {got} task.created events for {expected} creates")
        if after.order_violations:
            problems.append(f"reading subscriber: {after.order_violations} ids out of order")
        fig.errors += problems
        fig.error_count += len(problems)
        return row

    async def _stalled(self) -> CostRow:
        """A subscriber that never reads its socket while the creates run; then it reads what the
        server kept for it: the events up to its bounded queue (and the kernel's socket buffers),
        then the end: a 1013 close frame, or a bare EOF when the server gave up waiting for the
        reader to take it — SPEC §4: the slow one is dropped, nobody waits for it."""
        stall = _Stall()
        client = await open_ws(self.port, "bench-stalled", stall.count, STALLED_RCVBUF)
        await client.subscribe({"id": "stalled"})
        assert client.transport is not None
        client.transport.pause_reading()
        row = await self._create("1 subscriber, never reads")
        row.baseline = False
        stall.expected = row.figure.statuses.get("201", 0)
        client.closed.add_done_callback(lambda _: stall.done.set())
        client.transport.resume_reading()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stall.done.wait(), STALL_READ_TIMEOUT)
        note = f"the never-reading subscriber, once it read: {stall.got:,} events"
        if client.closed.done():
            code = client.closed.result()
            note += f", then close {code}" if code != ABNORMAL else ", then EOF (no close frame)"
        else:
            note += ", still open"
            client.close()
        row.figure.notes.append(note + f" ({stall.expected:,} created)")
        return row


class _Stall:
    def __init__(self) -> None:
        self.got = 0
        self.expected: int | None = None  # known once creation is over
        self.done = asyncio.Event()

    def count(self, envelope: dict[str, Any], now: float) -> None:
        self.got += 1
        if self.expected is not None and self.got >= self.expected:
            self.done.set()
