"""Event log retention (SPEC §9.1): old events are trimmed; a reader who asks for them is told.

The trimmer runs in every server process, in the background: one bounded step (``BATCH`` rows,
one short transaction) at a time, yielding between steps, so writes never wait behind a long
delete — on SQLite statements run on the event loop. Several processes on one PostgreSQL take
turns under an advisory lock, and each step deletes the oldest events in id order, so the kept
log is always a contiguous tail and ``Kept.trimmed`` says where it starts.

A reader that asks for the events after an id whose successors were trimmed gets :class:`Gone`
(HTTP 410, WebSocket close 4410) naming the oldest event kept, never a silent gap. ``since`` is
exclusive: ``since = oldest - 1`` misses nothing.
"""

from __future__ import annotations

import asyncio
import logging

from ats.errors import Gone, Unavailable
from ats.models import Millis, now_ms
from ats.store import Store

log = logging.getLogger("ats.retention")
DEFAULT_RETENTION_S = 30 * 86400.0
BATCH = 5000


async def ensure_kept(store: Store, since: int, first: int | None = None) -> None:
    """Raise :class:`Gone` when some events after ``since`` were trimmed.

    ``first`` is the id of the first event a read after ``since`` returned: ``since + 1`` proves
    nothing before it is missing, without asking the database.
    """
    if first == since + 1:
        return
    kept = await store.events.kept_events()
    if kept.gone(since):
        oldest = kept.oldest if kept.oldest is not None else kept.trimmed + 1
        raise Gone(
            f"events after {since} are no longer kept (event log retention); the oldest kept "
            f"is {oldest}: resume after {oldest - 1}",
            oldest=oldest,
        )


def trim_interval(retention_s: float) -> float:
    """Seconds between trim rounds: a fraction of the retention, between 0.5 s and a minute."""
    return min(60.0, max(0.5, retention_s / 4))


async def trim_once(store: Store, before: Millis, batch: int = BATCH) -> int:
    """Trim every event written before ``before``, one bounded step at a time."""
    total = 0
    while n := await store.events.trim_events(
        before, batch
    ):  # a step may be smaller than ``batch``
        total += n
        await asyncio.sleep(0)  # writers waiting for the store take their turn here
    return total


async def trim_forever(store: Store, retention_s: float, batch: int = BATCH) -> None:
    """The background task: every :func:`trim_interval`, drop what is older than the retention."""
    interval = trim_interval(retention_s)
    while True:
        try:
            gone = await trim_once(store, Millis(now_ms() - int(retention_s * 1000)), batch)
            if gone:
                log.info("event log retention: trimmed %d event(s)", gone)
        except asyncio.CancelledError:
            raise
        except Unavailable as exc:  # the database is away: one line, the next round retries
            log.warning("event log retention round failed: %s", exc)
        except Exception:  # the next round tries again
            log.exception("event log retention round failed")
        await asyncio.sleep(interval)
