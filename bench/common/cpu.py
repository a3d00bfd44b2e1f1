"""Who used the CPU during a run: the server, the subscribers, PostgreSQL, everyone else.

The machine has 2 cores and is shared: a figure taken while other processes were busy is
suspect, so every run says how much of the machine was not ours.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common.target import CLOCK_TICKS


@dataclass(frozen=True)
class Cores:
    server: float  # ats serve
    subscribers: float  # the subscriber processes (as they count themselves)
    database: float  # every PostgreSQL process (ours, and anyone else's on this machine)
    other: float  # the rest of the machine, this process excepted (other people's tests…)


class CpuWatch:
    """Cores used from construction until ``cores()``."""

    def __init__(self, server_cpu: Callable[[], float]) -> None:
        self.server_cpu = server_cpu
        self.t0, self.srv0, self.db0 = time.perf_counter(), server_cpu(), postgres_cpu()
        self.machine0, self.own0 = machine_cpu(), own_cpu()
        self.elapsed = 0.0  # set by cores()

    def cores(self, subscribers_cpu: float) -> Cores:
        self.elapsed = elapsed = time.perf_counter() - self.t0
        srv = self.server_cpu() - self.srv0
        db = postgres_cpu() - self.db0
        own = own_cpu() - self.own0
        rest = machine_cpu() - self.machine0 - srv - db - subscribers_cpu - own
        return Cores(
            srv / elapsed, subscribers_cpu / elapsed, db / elapsed, max(0.0, rest) / elapsed
        )


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def postgres_cpu() -> float:
    """User + system CPU of every process named ``postgres`` (backends, WAL writer, …)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name, _, rest = stat.partition(" (")[2].rpartition(")")
        if name.startswith("postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS
