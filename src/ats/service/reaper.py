"""The lease reaper: every server process runs one.

Several reapers on one PostgreSQL never expire a task twice: each expiry locks the row with
``SKIP LOCKED`` and re-checks the lease (see the store's ``lock_expired``).
"""

from __future__ import annotations

import asyncio
import logging

from ats.models import now_ms
from ats.store import Store

log = logging.getLogger("ats.reaper")
BATCH = 200


async def reap_once(store: Store) -> int:
    total = 0
    while True:
        n = await store.expire_leases(now_ms(), BATCH)
        total += n
        if n < BATCH:
            return total


async def reap_forever(store: Store, interval: float) -> None:
    while True:
        try:
            expired = await reap_once(store)
            if expired:
                log.info("expired %d lease(s)", expired)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep reaping after a database hiccup; the next round retries
            log.exception("lease reaper round failed")
        await asyncio.sleep(interval)
