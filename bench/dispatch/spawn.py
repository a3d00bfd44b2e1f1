"""The raw spawn rate of a program on this machine, the way ``ats dispatch`` spawns it.

Run as a program in its own process (``measure_raw`` does that), with plain ``asyncio.run`` like
the dispatcher's CLI: same event loop, same child watcher (ThreadedChildWatcher on Python 3.11,
one thread per child), same ``create_subprocess_exec`` arguments as ``CommandExecutor.run``
(three pipes, ``start_new_session=True``, the environment plus the ATS_* variables, the prompt
written to stdin). ``concurrency`` workers spawn back to back. For reference, a plain
``subprocess.run([program])`` loop, one at a time.

    .venv/bin/python -m bench.dispatch.spawn [--seconds 3] [--max 20000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.common.cpu import machine_cpu
from bench.common.target import REPO

PROMPT = b"bench task\n"  # what CommandExecutor writes to stdin: the title, for a bare task
ATS_ENV = {"ATS_TASK_ID": "1", "ATS_URL": "http://127.0.0.1:1", "ATS_CHANNEL": "bench",
           "ATS_TASK_ATTEMPT": "1"}  # fmt: skip


@dataclass
class SpawnRate:
    """One timed loop: spawns/s, and the CPU it cost (cores of the 2)."""

    method: str
    spawns: int
    seconds: float
    rate: float
    cores: float  # the measuring process (its threads included)
    child_cores: float  # the spawned children, as reaped
    failures: int = 0


@dataclass
class RawSpawn:
    """One run of this program: the asyncio rate, the subprocess.run rate, the machine's rest."""

    asyncio: SpawnRate
    run: SpawnRate
    other_cores: float  # busy cores not used by this measurement (other people's work)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"asyncio": self.asyncio.__dict__, "run": self.run.__dict__,
                "other_cores": self.other_cores, "notes": self.notes}  # fmt: skip


def _usage() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


async def _asyncio_rate(program: str, seconds: float, most: int, concurrency: int) -> SpawnRate:
    env = {**os.environ, **ATS_ENV}
    spawned = failures = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal spawned, failures
        while time.perf_counter() < deadline and spawned < most:
            spawned += 1
            proc = await asyncio.create_subprocess_exec(
                program,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
            await proc.communicate(PROMPT)
            failures += proc.returncode != 0

    own0, kids0 = _usage()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _rate(f"asyncio x{concurrency}", spawned, t0, own0, kids0, failures)


def _run_rate(program: str, seconds: float, most: int) -> SpawnRate:
    spawned = failures = 0
    own0, kids0 = _usage()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline and spawned < most:
        spawned += 1
        failures += subprocess.run([program]).returncode != 0
    return _rate("subprocess.run x1", spawned, t0, own0, kids0, failures)


def _rate(method: str, spawns: int, t0: float, own0: float, kids0: float, bad: int) -> SpawnRate:
    seconds = time.perf_counter() - t0
    own1, kids1 = _usage()
    return SpawnRate(method, spawns, seconds, spawns / seconds, (own1 - own0) / seconds,
                     (kids1 - kids0) / seconds, bad)  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", default="true")
    parser.add_argument("--seconds", type=float, default=3.0, help="per method")
    parser.add_argument("--max", type=int, default=20_000, help="spawns per method, at most")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    program = shutil.which(args.program)  # CommandExecutor resolves it once, the same way
    if program is None:
        parser.error(f"not found: {args.program}")
    fast = asyncio.run(_asyncio_rate(program, args.seconds, args.max, args.concurrency))
    slow = _run_rate(program, args.seconds, args.max)
    print(json.dumps({"asyncio": fast.__dict__, "run": slow.__dict__}))
    return 0


async def measure_raw(seconds: float, concurrency: int, program: str = "true") -> RawSpawn:
    """Run this file as a program (a fresh interpreter, plain asyncio) and read its figures."""
    busy0, kids0, t0 = machine_cpu(), _usage()[1], time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.dispatch.spawn", "--program", program,
        "--seconds", str(seconds), "--concurrency", str(concurrency),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    try:
        out, err = await proc.communicate()
    except BaseException:  # Ctrl-C: do not leave it spawning on its own
        proc.kill()
        await asyncio.shield(proc.wait())
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"bench.dispatch.spawn failed: {err.decode(errors='replace')[-2000:]}")
    elapsed, busy = time.perf_counter() - t0, machine_cpu() - busy0
    ours = _usage()[1] - kids0  # the program, its start-up and every child it reaped
    figures = json.loads(out)
    fast, slow = SpawnRate(**figures["asyncio"]), SpawnRate(**figures["run"])
    raw = RawSpawn(fast, slow, max(0.0, busy - ours) / elapsed)
    for r in (fast, slow):
        if r.failures:
            raw.notes.append(f"{r.method}: {r.failures} of {r.spawns} spawns exited non-zero")
    return raw


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
