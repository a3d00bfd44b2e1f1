"""Persistence: one :class:`~ats.store.base.Store` Protocol, a SQLite and a PostgreSQL backend."""

from __future__ import annotations

import os
from pathlib import Path

from ats.errors import InvalidInput
from ats.store.base import EventQuery, NewTask, Store, TaskQuery

__all__ = [
    "DEFAULT_URL",
    "EventQuery",
    "NewTask",
    "Store",
    "TaskQuery",
    "open_store",
    "resolve_url",
    "upgrade_database",
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
        f"unsupported database URL {url!r}: use sqlite:///path.db or postgresql://user@host/db"
    )


async def upgrade_database(url: str | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied (``ats db upgrade``)."""
    store = await open_store(url, pool_size=2)
    try:
        return await store.migrate()
    finally:
        await store.close()
