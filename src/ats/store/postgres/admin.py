"""Creating the PostgreSQL database a URL names (``ats db create``).

A database cannot be created from inside itself, so this connects to the server's maintenance
database instead — ``postgres``, else ``template1``, as ``createdb`` does — with the same user,
password, host and options. The statements live here rather than in ``queries.sql``: they run on
the maintenance database, not on a store, and ``CREATE DATABASE`` takes no bind parameters (the
name is quoted as an identifier instead).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from ats import redact
from ats.errors import Forbidden, InvalidInput, Unavailable

MAINTENANCE = ("postgres", "template1")


def database_name(url: str) -> str:
    """The database ``url`` names: ``postgresql://u@h/ats`` → ``ats``."""
    name = unquote(urlsplit(url).path.removeprefix("/"))
    if not name or "/" in name:
        raise InvalidInput(f"{redact.url(url)!r} names no database: expected postgresql://…/NAME")
    return name


def _on(url: str, database: str) -> str:
    """``url`` with ``database`` in place of the one it names."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _maintenance(url: str) -> asyncpg.Connection:
    where = redact.url(url)
    for database in MAINTENANCE:
        try:
            return await asyncpg.connect(_on(url, database), timeout=10)
        except asyncpg.InvalidCatalogNameError:
            continue  # no "postgres" database on this server: try template1
        except (OSError, asyncpg.PostgresError) as exc:
            why = redact.text(str(exc))
            raise Unavailable(f"cannot connect to PostgreSQL at {where}: {why}") from exc
    names = " or ".join(MAINTENANCE)
    raise Unavailable(f"cannot create a database at {where}: the server has no {names} database")


async def create_database(url: str) -> bool:
    """Create the database ``url`` names; False when it already exists (not an error)."""
    name = database_name(url)
    conn = await _maintenance(url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f"CREATE DATABASE {_quoted(name)}")
    except asyncpg.DuplicateDatabaseError:
        return False  # another `ats db create` won the race: the database is there all the same
    except asyncpg.InsufficientPrivilegeError as exc:
        raise Forbidden(f"cannot create database {name!r}: {exc}") from exc
    except (OSError, asyncpg.PostgresError) as exc:
        why = redact.text(str(exc))
        raise Unavailable(f"cannot create database {name!r} at {redact.url(url)}: {why}") from exc
    finally:
        await conn.close()
    return True
