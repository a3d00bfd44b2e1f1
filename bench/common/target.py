"""What the benchmark runs against: a fresh database per backend, a real ``ats serve`` process."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg
import httpx

Backend = Literal["sqlite", "postgres"]
HOST = "127.0.0.1"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def fresh_database(backend: Backend, pg_admin: str = PG_ADMIN) -> AsyncIterator[str]:
    """A database URL nobody else uses; removed on the way out."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ats_bench_") as tmp:
            yield f"sqlite:///{Path(tmp) / 'ats.db'}"
        return
    name = f"ats_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(pg_admin)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pg_admin.rsplit("/", 1)[0] + "/" + name
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its worker processes so far."""
        return sum(_cpu_of(pid) for pid in _tree(self.process.pid))


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found += frontier
    return found


@contextlib.contextmanager
def running_server(url: str, workers: int, log_dir: Path) -> Iterator[Server]:
    """``ats serve`` on a free loopback port, stopped (SIGTERM, then SIGKILL) on the way out."""
    port = free_port()
    log = log_dir / f"server-{port}.log"
    cmd = [sys.executable, "-m", "ats", "serve", "--port", str(port), "--database", url]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    server = Server(process, port, log)
    try:
        _wait_healthy(server, timeout=30.0)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"ats serve exited early:\n{server.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://{HOST}:{server.port}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"ats serve not healthy after {timeout:.0f} s:\n{server.log.read_text()}")
