"""A real ``ats dispatch`` process for the benchmark, and its JSON log read as it grows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common.target import CLOCK_TICKS, HOST

READY = "listening for events"  # the dispatcher's log line once its event stream is up
TROUBLE = frozenset({"failed", "retrying", "rejected", "claim failed", "could not report",
                     "lease lost", "stopping work", "event stream lost; reconnecting",
                     "event stream unavailable; polling meanwhile"})  # fmt: skip


def log_time(record: dict[str, Any]) -> float:
    """The record's ``ts`` (UTC, whole milliseconds) as a Unix time."""
    return datetime.fromisoformat(record["ts"]).timestamp()


@dataclass
class DispatchLog:
    """The dispatcher's stdout, one JSON record per line, parsed as far as it is written."""

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    garbage: list[str] = field(default_factory=list)  # lines that are not JSON records
    _offset: int = 0

    def poll(self) -> list[dict[str, Any]]:
        """Records written since the last poll (whole lines only)."""
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        new = []
        for line in chunk[:end].splitlines():
            try:
                new.append(json.loads(line))
            except ValueError:
                self.garbage.append(line.decode(errors="replace")[:300])
        self.records += new
        return new

    def messages(self, msg: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("msg") == msg]

    def trouble(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("msg") in TROUBLE or r.get("level") == "error"]

    def problems(self) -> list[str]:
        """What went wrong, as far as the log says (at most 10 lines)."""
        found = [json.dumps(r)[:300] for r in self.trouble()]
        found += [f"not a JSON log line: {line}" for line in self.garbage]
        return found[:10]


@dataclass
class Dispatcher:
    process: subprocess.Popen[bytes]
    log: DispatchLog
    stderr: Path

    def cpu(self) -> tuple[float, float]:
        """CPU seconds of the dispatcher (all its threads) and of the children it has reaped."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return 0.0, 0.0
        f = stat.rsplit(")", 1)[1].split()
        own, kids = int(f[11]) + int(f[12]), int(f[13]) + int(f[14])  # utime stime cutime cstime
        return own / CLOCK_TICKS, kids / CLOCK_TICKS

    def problems(self) -> list[str]:
        """Trouble in its log, and tracebacks on its stderr."""
        found = self.log.problems()
        if "Traceback" in self.stderr.read_text(errors="replace"):
            found.append(f"tracebacks on the dispatcher's stderr: {self.stderr}")
        return found

    def stderr_tail(self) -> str:
        text = self.stderr.read_text(errors="replace") if self.stderr.exists() else ""
        return f"; its stderr ends:\n{text[-2000:]}" if text.strip() else ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"ats dispatch exited with {self.process.returncode}" + self.stderr_tail()
            )

    async def wait_for(self, msg: str, count: int, within: float) -> None:
        """Until the log holds ``count`` records with ``msg``; RuntimeError when ``within``
        seconds pass without a new one (a stuck dispatcher does not hang the benchmark)."""
        seen = len(self.log.messages(msg))
        deadline = time.monotonic() + within
        while seen < count:
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"ats dispatch: {seen} of {count} {msg!r}, none for {within:.0f} s"
                    + self.stderr_tail()
                )
            await asyncio.sleep(0.02)
            new = sum(1 for r in self.log.poll() if r.get("msg") == msg)
            if new:
                seen += new
                deadline = time.monotonic() + within


@contextlib.asynccontextmanager
async def running_dispatcher(
    port: int, channel: str, command: str, concurrency: int, workdir: Path, name: str
) -> AsyncIterator[Dispatcher]:
    """``ats dispatch`` against the server on ``port``, ready (its event stream is up) when
    yielded; stopped on the way out (:func:`stop`)."""
    dispatcher = _start(port, channel, command, concurrency, workdir / name)
    try:
        await dispatcher.wait_for(READY, 1, within=30.0)
        yield dispatcher
    finally:
        stop(dispatcher.process)


def _start(port: int, channel: str, command: str, concurrency: int, run_dir: Path) -> Dispatcher:
    """In a directory and HOME of its own, so that no ``.ats/`` settings file of this checkout or
    of the user applies, and with no ATS_* variable but the URL. In a session of its own, so that
    a Ctrl-C in the terminal reaches this program only, which then stops it in order."""
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATS_")}
    env.update(ATS_URL=f"http://{HOST}:{port}", HOME=str(run_dir))
    cmd = [sys.executable, "-m", "ats", "dispatch", "-c", channel, "--command", command,
           "--concurrency", str(concurrency), "--log-format", "json"]  # fmt: skip
    out, err = run_dir / "dispatch.log", run_dir / "dispatch.stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            cmd, stdout=stdout, stderr=stderr, cwd=run_dir, env=env, start_new_session=True
        )
    return Dispatcher(process, DispatchLog(out), err)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s. Its children need nothing: each runs in a session of
    its own and the dispatcher stops them itself; ``true`` and ``date`` end at once anyway."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
