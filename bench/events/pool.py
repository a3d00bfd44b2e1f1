"""The subscriber processes, seen from the benchmark: start, ask, merge what they counted."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.common.target import REPO
from bench.events.subscriber import RungStats

SCRIPT = "bench.events.subscriber"  # run as ``python -m``, from the repository root
READY_TIMEOUT = 120.0  # 500 upgrades on a busy 2-core machine take a few seconds
ANSWER_TIMEOUT = 30.0


@dataclass
class Received:
    """What all subscriber processes counted so far (cumulative; diff two to get one rung)."""

    cpu: float = 0.0
    open: int = 0
    order_violations: int = 0
    closes: Counter[int] = field(default_factory=Counter)
    resumes: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    rungs: dict[int, RungStats] = field(default_factory=dict)

    def add(self, part: dict[str, Any], offset: int, total: int) -> None:
        """Merge one process's answer; its subscribers are ``offset…`` of ``total``."""
        self.cpu += part["cpu"]
        self.open += part["open"]
        self.order_violations += part["order_violations"]
        self.closes.update({int(code): n for code, n in part["closes"].items()})
        self.resumes += part["resumes"]
        self.errors += part["errors"]
        self.error_count += part["error_count"]
        for key, theirs in part["rungs"].items():
            mine = self.rungs.setdefault(int(key), RungStats([0] * total, [0] * total))
            n = len(theirs["count"])
            mine.count[offset : offset + n] = theirs["count"]
            mine.id_sum[offset : offset + n] = theirs["id_sum"]
            mine.hist.update({int(step): k for step, k in theirs["hist"].items()})
            mine.stamp_hist.update({int(step): k for step, k in theirs["stamp_hist"].items()})
            mine.max_ms = max(mine.max_ms, theirs["max_ms"])
            if theirs["first"] is not None:  # orjson writes inf (nothing received) as null
                mine.first = min(mine.first, theirs["first"])
            mine.last = max(mine.last, theirs["last"])


@dataclass
class _Process:
    process: asyncio.subprocess.Process
    offset: int
    count: int


class Subscribers:
    """``total`` WebSocket subscribers spread over ``processes`` client processes."""

    def __init__(self, procs: list[_Process], total: int, log: Path) -> None:
        self._procs = procs
        self.total = total
        self.log = log

    @classmethod
    async def start(
        cls,
        port: int,
        total: int,
        processes: int,
        channel: str | None,
        log_dir: Path,
        *,
        script: str = SCRIPT,
    ) -> Subscribers:
        """``script`` (a module, run with ``-m``) speaks the protocol of bench.events.subscriber
        (bench.feed.subscriber does too)."""
        processes = max(1, min(processes, total))
        shares = [total // processes + (i < total % processes) for i in range(processes)]
        log = log_dir / f"subscribers-{port}-{time.monotonic_ns()}.log"
        procs: list[_Process] = []
        offset = 0
        with log.open("ab") as err:
            for share in shares:
                cmd = ["-m", script, "--port", str(port), "--count", str(share),
                       "--first", str(offset)]  # fmt: skip
                if channel is not None:
                    cmd += ["--channel", channel]
                process = await asyncio.create_subprocess_exec(
                    sys.executable, *cmd,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
                    cwd=REPO,  # so that ``-m bench…`` finds the package
                    limit=1 << 26,  # one stats line carries every latency histogram
                )  # fmt: skip
                procs.append(_Process(process, offset, share))
                offset += share
        pool = cls(procs, total, log)
        try:
            for proc, answer in zip(procs, await pool._read_all(READY_TIMEOUT), strict=True):
                if answer.get("ready") != proc.count:
                    raise RuntimeError(f"a subscriber process answered {answer!r}")
        except BaseException:
            await pool.stop()
            raise
        return pool

    async def _read_all(self, within: float) -> list[dict[str, Any]]:
        async def read(proc: _Process) -> dict[str, Any]:
            assert proc.process.stdout is not None
            line = await proc.process.stdout.readline()
            if not line:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"a subscriber process exited:\n{tail}")
            answer: dict[str, Any] = orjson.loads(line)
            return answer

        async with asyncio.timeout(within):
            return list(await asyncio.gather(*(read(p) for p in self._procs)))

    async def ask(self, command: dict[str, Any]) -> list[dict[str, Any]]:
        line = orjson.dumps(command) + b"\n"
        for proc in self._procs:
            assert proc.process.stdin is not None
            proc.process.stdin.write(line)
        return await self._read_all(ANSWER_TIMEOUT)

    async def received(self) -> Received:
        merged = Received()
        for proc, part in zip(self._procs, await self.ask({"cmd": "stats"}), strict=True):
            merged.add(part, proc.offset, self.total)
        return merged

    async def settle(self, rung: int, expected: int, quiet: float = 5.0) -> float:
        """Wait until every subscriber got ``expected`` deliveries of ``rung``, or nothing moved
        for ``quiet`` seconds. Answers the seconds waited."""
        t0 = time.perf_counter()
        fewest, moved = -1, t0
        while time.perf_counter() - moved < quiet:
            now = min(a["fewest"] for a in await self.ask({"cmd": "progress", "rung": rung}))
            if now >= expected:
                break
            if now != fewest:
                fewest, moved = now, time.perf_counter()
            await asyncio.sleep(0.05)
        return time.perf_counter() - t0

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.ask({"cmd": "quit"})
        for proc in self._procs:
            try:
                await asyncio.wait_for(proc.process.wait(), 10.0)
            except TimeoutError:
                proc.process.kill()
                await proc.process.wait()
