"""Background upkeep every server process runs: the lease reaper and table tidying.

Several reapers on one PostgreSQL never expire a task twice: each expiry locks the row with
``SKIP LOCKED`` and re-checks the lease (see the store's ``lock_expired``). Tidying (PostgreSQL: a
VACUUM of each churned table with dead rows piling up, in one process at a time under an advisory
lock; SQLite: free pages back to the file system in small steps, ``PRAGMA optimize``, the WAL
emptied when idle) runs every second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ats.errors import Unavailable
from ats.models import now_ms
from ats.store import Store

log = logging.getLogger("ats.reaper")
BATCH = 200
TIDY_EVERY_S = 1.0
TIDY_DEAD_ROWS = 2000


async def reap_once(store: Store) -> int:
    total = 0
    while True:
        n = await store.tasks.expire_leases(now_ms(), BATCH)
        total += n
        if n < BATCH:
            return total


async def reap_forever(
    store: Store, interval: float, on_write: Callable[[], None] = lambda: None
) -> None:
    tidy_due = time.monotonic() + TIDY_EVERY_S
    while True:
        try:
            expired = await reap_once(store)
            if expired:
                log.info("expired %d lease(s)", expired)
                on_write()
            # Keeps the PostgreSQL count ledger short, so stats and counts stay cheap to read.
            await store.upkeep.fold_counts()
            if time.monotonic() >= tidy_due:
                tidy_due = time.monotonic() + TIDY_EVERY_S
                await store.upkeep.tidy(TIDY_DEAD_ROWS)
        except asyncio.CancelledError:
            raise
        except Unavailable as exc:  # the database is away: one line, the next round retries
            log.warning("background upkeep round failed: %s", exc)
        except Exception:  # keep going after a database hiccup; the next round retries
            log.exception("background upkeep round failed")
        await asyncio.sleep(interval)
