"""Real ``ats dispatch`` processes for tests: start, read their JSON log, signal, wait."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ats import AsyncClient
from ats.models import Actor, ActorType, Status, Task

ATS = [sys.executable, "-m", "ats"]
SUBMITTER = Actor(ActorType.HUMAN, "tester", "Tester")


class Bot:
    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log

    def records(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]

    def messages(self, msg: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["msg"] == msg]

    async def wait_log(self, msg: str, within: float = 20.0, **fields: Any) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                for record in self.records():
                    if record["msg"] == msg and all(record.get(k) == v for k, v in fields.items()):
                        return record
                if self.proc.returncode is not None:
                    raise AssertionError(f"dispatcher exited {self.proc.returncode}: {self.log}")
                await asyncio.sleep(0.02)

    async def stop(self, sig: int = signal.SIGTERM, within: float = 30.0) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(within):
            return await self.proc.wait()


@asynccontextmanager
async def dispatcher(
    url: str, *args: str, log: Path, env: dict[str, str] | None = None, ready: bool = True
) -> AsyncIterator[Bot]:
    """An ``ats dispatch`` process on ``url``; waits until it listens for events."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *ATS,
            "dispatch",
            *args,
            env={**os.environ, "ATS_URL": url, **(env or {})},
            stdout=out,
            stderr=asyncio.subprocess.PIPE,
        )
    bot = Bot(proc, log)
    try:
        if ready:
            await bot.wait_log("listening for events")
        yield bot
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def wait_status(
    client: AsyncClient, task_id: int, *statuses: Status, within: float = 20.0
) -> Task:
    async with asyncio.timeout(within):
        while True:
            task = await client.get_task(task_id)
            if task.status in statuses:
                return task
            await asyncio.sleep(0.05)


async def preflight(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``ats dispatch`` expecting it to refuse to start: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *ATS,
        "dispatch",
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def until(check: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    """Wait until ``check()`` is true (polling a file, a process, a receiver)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)
