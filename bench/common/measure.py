"""What one scenario measures: counts, latencies, errors, CPU, and the figure made of them."""

from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MAX_ERRORS_KEPT = 10


@dataclass
class Tally:
    """Filled by the workers of one scenario (one event loop, so no locking)."""

    done: int = 0  # units of work finished: requests, tasks or cycles, per scenario
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)


@dataclass
class Figure:
    """One row of the report: a rate with its latency, CPU and correctness notes."""

    name: str
    unit: str
    rate: float
    done: int
    seconds: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu: float | None = None  # cores used by `ats serve` during the run
    client_cpu: float | None = None  # cores used by this process during the run
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(
    name: str,
    unit: str,
    body: Callable[[Tally], Awaitable[None]],
    server_cpu: Callable[[], float] | None = None,
) -> Figure:
    """Run ``body`` once, timing it and charging CPU to this process and to the server."""
    tally = Tally()
    srv0 = server_cpu() if server_cpu else 0.0
    cpu0, t0 = _own_cpu(), time.perf_counter()
    await body(tally)
    seconds = time.perf_counter() - t0
    cpu1 = _own_cpu()
    srv1 = server_cpu() if server_cpu else 0.0
    lat = sorted(tally.latencies)
    p50, p99 = percentile(lat, 0.50), percentile(lat, 0.99)
    return Figure(
        name=name,
        unit=unit,
        rate=tally.done / seconds if seconds > 0 else 0.0,
        done=tally.done,
        seconds=seconds,
        p50_ms=None if p50 is None else p50 * 1000,
        p99_ms=None if p99 is None else p99 * 1000,
        server_cpu=(srv1 - srv0) / seconds if server_cpu else None,
        client_cpu=(cpu1 - cpu0) / seconds,
        errors=tally.errors,
        error_count=tally.error_count,
        statuses={str(k): v for k, v in sorted(tally.statuses.items())},
    )


@dataclass(frozen=True)
class Plan:
    """How hard and how long every scenario pushes; both the HTTP and the store side use it."""

    duration: float = 10.0  # seconds per timed scenario
    create_conns: int = 64
    create_max: int = 500_000  # requests; the time limit normally ends the run first
    bulk_conns: int = 4
    bulk_size: int = 1000
    bulk_max: int = 400  # requests
    workers: int = 16
    # Pending tasks added before each claim scenario, on top of what create and bulk left behind.
    claim_seed: dict[int, int] = field(default_factory=lambda: {1: 30_000, 50: 150_000})
    channel_seed: int = 20_000  # for the claim-with-a-channel-filter row
    lease_ms: int = 300_000

    @property
    def grace(self) -> float:
        """A scenario that has not stopped by duration + grace is cut off (a hung server)."""
        return self.duration + 60.0
