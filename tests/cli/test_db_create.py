"""``ats db create``: the database a URL names comes into being, migrated; ``ats serve`` on a
missing PostgreSQL database says to run it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import IN_CI, PG_ADMIN, free_port

from .conftest import Ats


async def _admin(sql: str, *args: str) -> object:
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def _on_server(name: str) -> str:
    base, _, _ = PG_ADMIN.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def missing_db() -> Iterator[tuple[str, str]]:
    """(name, URL) of a PostgreSQL database that does not exist yet; dropped afterwards."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL not reachable at {PG_ADMIN}: {exc}"
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL tests cannot run: {reason}")
        pytest.skip(reason)
    # Upper case and a hyphen: the name must be quoted as an identifier to survive.
    name = f"ats_Create-{uuid.uuid4().hex[:10]}"
    try:
        yield name, _on_server(name)
    finally:
        drop = name.replace('"', '""')
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)'))


def _exists(name: str) -> bool:
    return asyncio.run(_admin("SELECT 1 FROM pg_database WHERE datname = $1", name)) == 1


def test_creates_a_postgres_database_once_and_migrates_it(
    ats: Ats, missing_db: tuple[str, str]
) -> None:
    name, url = missing_db
    first = ats("db", "create", "--database", url)
    assert first.code == 0, first.err
    lines = first.out.splitlines()
    assert lines[0] == f"created database {url}"
    assert lines[1:] and all(line.startswith("applied ") for line in lines[1:])
    assert _exists(name)
    again = ats("db", "create", "--database", url, "-f", "json")
    assert again.code == 0, again.err
    assert again.json() == {"database": url, "created": False, "applied": []}
    assert ats("db", "upgrade", "--database", url).out == "database is up to date\n"


def test_the_url_may_come_from_the_environment(
    ats: Ats, missing_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, url = missing_db
    monkeypatch.setenv("ATS_DATABASE_URL", url)
    done = ats("db", "create")
    assert (done.code, done.out.splitlines()[0]) == (0, f"created database {url}")
    assert _exists(name)
    assert ats("db", "create").out == f"database {url} already exists\n"


def test_serve_on_a_missing_database_says_to_create_it(missing_db: tuple[str, str]) -> None:
    name, url = missing_db
    command = [sys.executable, "-m", "ats", "serve", "--port", str(free_port()), "--database", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 5
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"Error: the PostgreSQL database at {url} does not exist: create it with "
        "`ats db create` (same --database / ATS_DATABASE_URL)"
    ]
    assert not _exists(name)


def test_a_url_without_a_database_name_is_refused(ats: Ats) -> None:
    base, _, _ = PG_ADMIN.rpartition("/")
    done = ats("db", "create", "--database", base + "/")
    assert done.code == 1
    assert "names no database" in done.err


def test_creates_a_sqlite_file_and_migrates_it(ats: Ats, tmp_path: Path) -> None:
    path = tmp_path / "deep/dir/ats.db"
    url = f"sqlite:///{path}"
    first = ats("db", "create", "--database", url)
    assert first.code == 0, first.err
    assert first.out.splitlines()[0] == f"created database {url}"
    assert path.is_file()
    again = ats("db", "create", "--database", url, "-f", "json")
    assert again.json() == {"database": url, "created": False, "applied": []}


def test_creates_the_default_sqlite_file(ats: Ats, isolated: Path) -> None:
    done = ats("db", "create")
    assert done.code == 0, done.err
    assert done.out.startswith("created database sqlite:///.ats/ats.db\n")
    assert (isolated / ".ats/ats.db").is_file()
