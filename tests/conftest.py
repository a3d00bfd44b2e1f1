"""Shared fixtures: one parametrized database fixture for both backends, apps, live servers.

PostgreSQL: a template database is migrated once per session and cloned for every test. When no
PostgreSQL server answers, its tests are skipped with the reason — except under ``CI=true``,
where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from ats.server.app import create_app
from ats.store import Store, open_store

PG_ADMIN = os.environ.get("ATS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgres"]


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN.rpartition("/")
    return f"{base}/{dbname}"


class _PgTemplate:
    """Creates the migrated template lazily, once per test session (and worker)."""

    def __init__(self) -> None:
        self.name = f"ats_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.ready = False
        self.error: str | None = None

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(PG_ADMIN, timeout=5)

    async def ensure(self) -> None:
        if self.ready or self.error:
            return
        try:
            conn = await self._admin()
        except (OSError, asyncpg.PostgresError) as exc:
            self.error = f"PostgreSQL not reachable at {PG_ADMIN}: {exc}"
            return
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()
        store = await open_store(_pg_url(self.name), pool_size=2)
        try:
            await store.upkeep.migrate()
        finally:
            await store.close()
        self.ready = True

    async def clone(self) -> str:
        name = f"ats_t_{uuid.uuid4().hex[:12]}"
        conn = await self._admin()
        try:
            await conn.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{self.name}" STRATEGY FILE_COPY'
            )
        finally:
            await conn.close()
        return name

    async def drop(self, name: str) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


_TEMPLATE = _PgTemplate()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _TEMPLATE.ready:
        asyncio.run(_TEMPLATE.drop(_TEMPLATE.name))


async def _fresh_pg() -> AsyncIterator[str]:
    await _TEMPLATE.ensure()
    if _TEMPLATE.error:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL tests cannot run: {_TEMPLATE.error}")
        pytest.skip(_TEMPLATE.error)
    name = await _TEMPLATE.clone()
    try:
        yield _pg_url(name)
    finally:
        await _TEMPLATE.drop(name)


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database on each backend; yields its URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/ats.db"
        store = await open_store(url)
        await store.upkeep.migrate()
        await store.close()
        yield url
        return
    async for url in _fresh_pg():
        yield url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database (for what only PostgreSQL does: many servers)."""
    async for url in _fresh_pg():
        yield url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await open_store(db_url, pool_size=20)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process (no socket), lifespan included."""
    app = create_app(db_url, reaper_interval=0.1)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ATS = [sys.executable, "-m", "ats"]


def start_server(
    db_url: str,
    *extra: str,
    port: int,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``ats serve`` and wait until it answers /health (the caller stops it).

    ``log``: append its stderr to this file. A server that logs a lot (a database outage) must
    not write into a pipe nobody reads: once the pipe is full, it would block.
    """
    cmd = [*ATS, "serve", "--port", str(port), "--database", db_url, *extra]
    with contextlib.ExitStack() as files:
        stderr = files.enter_context(log.open("ab")) if log else subprocess.PIPE
        proc = subprocess.Popen(
            cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=stderr
        )
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            if log:
                err = log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"ats serve exited with {proc.returncode}: {err}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError("ats serve did not answer /health within 30 s")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()


@contextlib.contextmanager
def running_server(
    db_url: str,
    *extra: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[str]:
    """A real ``ats serve`` process; yields its base URL and stops it afterwards."""
    port = port or free_port()
    proc = start_server(db_url, *extra, port=port, env=env, log=log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)


@pytest.fixture
def server_url(db_url: str) -> Iterator[str]:
    """A real ``ats serve`` subprocess on a free port, on each backend."""
    with running_server(db_url, "--reaper-interval", "0.2") as url:
        yield url
