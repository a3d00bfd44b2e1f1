"""SQLite store: one connection in WAL mode, used from the event loop thread, shared by the ports.

Statements here take tens of microseconds (WAL, ``synchronous=NORMAL``: no fsync per commit), which
is less than handing each one to a worker thread would cost, so they run inline. A write holds an
asyncio lock from ``BEGIN IMMEDIATE`` to ``COMMIT``; no ``await`` inside it ever suspends, so the
transaction is also atomic with respect to other coroutines. A crash of the process loses nothing
that was committed (WAL survives it; only an OS crash can drop the last commits). See
:mod:`ats.store.sqlite.runner`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from ats.store.sqlite.catalog import ProjectPaths, SqliteCatalog
from ats.store.sqlite.events import SqliteEvents
from ats.store.sqlite.feed import SqliteFeed
from ats.store.sqlite.runner import Runner
from ats.store.sqlite.tasks import SqliteTasks
from ats.store.sqlite.upkeep import SqliteUpkeep


class SqliteStore:
    """The ports of one SQLite file, composed over one :class:`Runner`."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.runner = Runner(path)
        paths = ProjectPaths(self.runner)
        self.tasks = SqliteTasks(self.runner, paths)
        self.events = SqliteEvents(self.runner, paths)
        self.feed = SqliteFeed(self.runner, paths)
        self.catalog = SqliteCatalog(self.runner, paths)
        self.upkeep = SqliteUpkeep(self.runner)

    def open(self) -> Self:
        self.runner.open()
        return self

    async def close(self) -> None:
        self.upkeep.on_close()
        self.runner.close()
