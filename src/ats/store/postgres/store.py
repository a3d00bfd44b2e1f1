"""The PostgreSQL store: one port per concept, composed over one query runner (one pool)."""

from __future__ import annotations

from typing import Self

from ats.store.postgres.catalog import PgCatalog
from ats.store.postgres.events import PgEvents
from ats.store.postgres.feed import PgFeed
from ats.store.postgres.runner import Runner
from ats.store.postgres.tasks import PgTasks
from ats.store.postgres.upkeep import PgUpkeep


class PostgresStore:
    """A :class:`~ats.store.ports.Store` on PostgreSQL."""

    kind = "postgresql"

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20) -> None:
        self.runner = Runner(url, min_size=min_size, max_size=max_size)
        self.catalog = PgCatalog(self.runner)
        self.tasks = PgTasks(self.runner, self.catalog)
        self.events = PgEvents(self.runner, self.catalog)
        self.feed = PgFeed(self.runner, self.catalog)
        self.upkeep = PgUpkeep(self.runner, self.feed)

    async def open(self) -> Self:
        await self.runner.open()
        return self

    async def close(self) -> None:
        await self.events.close()  # the LISTEN connection first: it is not in the pool
        await self.runner.close()
