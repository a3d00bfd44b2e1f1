"""Fixtures of the fault tier: a private PostgreSQL cluster (restarted by the tests), and fresh
migrated databases on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from ats.store import open_store
from tests.faults.harness import cannot
from tests.faults.pgcluster import PgCluster, find_bindir


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bindir = find_bindir()
    if bindir is None:
        cannot("no PostgreSQL server binaries (initdb, pg_ctl): set ATS_TEST_PG_BIN")
    try:
        cluster = PgCluster(bindir)
    except RuntimeError as exc:
        cannot(str(exc))
    try:
        try:
            cluster.init()
            cluster.start()
        except (RuntimeError, OSError) as exc:
            cannot(f"cannot start a private PostgreSQL cluster: {exc}")
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
async def cluster_db(pg_cluster: PgCluster) -> AsyncIterator[str]:
    """A fresh, migrated database on the private cluster; yields its URL."""
    pg_cluster.ensure_running()  # an earlier test may have failed while it was down
    name = f"ats_f_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_cluster.url(), timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    store = await open_store(pg_cluster.url(name), pool_size=2)
    try:
        await store.upkeep.migrate()
    finally:
        await store.close()
    yield pg_cluster.url(name)
    conn = await asyncpg.connect(pg_cluster.url(), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
