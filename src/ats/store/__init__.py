"""Persistence: narrow ports composed into one :class:`~ats.store.ports.Store`, on two backends."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ats import redact
from ats.errors import InvalidInput
from ats.store.base import EventQuery, NewTask, TaskQuery
from ats.store.ports import Store

__all__ = [
    "DEFAULT_URL",
    "EventQuery",
    "NewTask",
    "Store",
    "TaskQuery",
    "create_database",
    "open_store",
    "resolve_url",
    "storage_stats",
    "upgrade_database",
    "vacuum_database",
]

DEFAULT_URL = "sqlite:///.ats/ats.db"


def resolve_url(url: str | None) -> str:
    """``--database`` > ``ATS_DATABASE_URL`` > the SQLite file ``./.ats/ats.db``."""
    return url or os.environ.get("ATS_DATABASE_URL") or DEFAULT_URL


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel/path.db`` is relative to the cwd, ``sqlite:////abs/path.db`` absolute."""
    rest = url.removeprefix("sqlite://")
    if not rest.startswith("/") or rest == "/":
        raise InvalidInput(f"malformed SQLite URL {url!r}: expected sqlite:///path/to/file.db")
    return Path(rest[1:])  # "/rel.db" → "rel.db"; "//abs.db" → "/abs.db"


async def open_store(url: str | None = None, *, pool_size: int = 20) -> Store:
    """Connect to the database named by ``url`` (see :func:`resolve_url`); not yet migrated."""
    url = resolve_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        from ats.store.postgres.store import PostgresStore

        return await PostgresStore(url, max_size=pool_size).open()
    if url.startswith("sqlite://"):
        from ats.store.sqlite.store import SqliteStore

        return SqliteStore(sqlite_path(url)).open()
    raise InvalidInput(
        f"unsupported database URL {redact.url(url)!r}: "
        "use sqlite:///path.db or postgresql://user@host/db"
    )


async def upgrade_database(url: str | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied (``ats db upgrade``)."""
    store = await open_store(url, pool_size=2)
    try:
        return await store.upkeep.migrate()
    finally:
        await store.close()


async def storage_stats(url: str | None = None) -> dict[str, Any]:
    """Rows and bytes per table and per index, the database's size (``ats db stats``)."""
    store = await open_store(url, pool_size=2)
    try:
        return await store.upkeep.storage_stats()
    finally:
        await store.close()


async def vacuum_database(url: str | None = None, *, full: bool = False) -> dict[str, int]:
    """VACUUM now; sizes before and after (``ats db vacuum``)."""
    store = await open_store(url, pool_size=2)
    try:
        return await store.upkeep.compact(full)
    finally:
        await store.close()


async def create_database(url: str | None = None) -> tuple[bool, list[str]]:
    """Create the database ``url`` names unless it exists, then migrate it (``ats db create``).

    Returns (whether it was created, the migrations applied). PostgreSQL: created through the
    server's maintenance database; SQLite: the file (and its directory) is created.
    """
    url = resolve_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        from ats.store.postgres.admin import create_database as create_on_server

        created = await create_on_server(url)
    elif url.startswith("sqlite://"):
        created = not sqlite_path(url).exists()
    else:
        created = False  # open_store names what is wrong with the URL
    return created, await upgrade_database(url)
