"""Monotonic ULIDs for the activity feed (SPEC §7): id order is publish order.

A ULID is 48 bits of milliseconds and 80 bits of randomness, written as 26 Crockford base-32
characters, so text order is numeric order. :func:`next_ids` never hands out an id at or below
the last one, even when the clock stalls or steps back: it counts up from the last id instead.
The caller holds the lock under which ``last`` was read (see the stores), which makes the order
hold across server processes too.
"""

from __future__ import annotations

import secrets

from ulid import ULID

RANDOM_BITS = 80


def next_ids(last: str, now_ms: int, n: int) -> list[str]:
    """``n`` ids, increasing, all above ``last`` ("" for none yet)."""
    floor = int(ULID.from_str(last)) if last else 0
    # The top random bit stays clear so that a millisecond has room to count up in.
    fresh = (now_ms << RANDOM_BITS) | secrets.randbits(RANDOM_BITS - 1)
    start = max(fresh, floor + 1)
    return [str(ULID.from_int(start + i)) for i in range(n)]


def canonical(text: str) -> str:
    """The id as the server writes it; ValueError when ``text`` is not a ULID."""
    if len(text) != 26:
        raise ValueError("a ULID has 26 characters")
    return str(ULID.from_str(text.upper()))


def after_millis(ms: int) -> str:
    """The highest id of millisecond ``ms``: everything published later sorts above it."""
    return str(ULID.from_int(((ms + 1) << RANDOM_BITS) - 1))


def millis(text: str) -> int:
    return int(ULID.from_str(text).milliseconds)
