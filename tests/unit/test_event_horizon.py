"""Where a reader of the event log may safely stop (commit order vs id order on PostgreSQL)."""

from __future__ import annotations

from ats.models import Millis
from ats.store.base import (
    GAP_GRACE_MS,
    TAIL_WINDOW,
    contiguous_horizon,
    safe_horizon,
    settled_head,
)


def test_event_horizon_waits_only_for_young_gaps() -> None:
    now = Millis(10_000_000)
    young, old = now - 10, now - GAP_GRACE_MS - 1
    assert contiguous_horizon([(1, old), (2, old), (4, young), (5, young)], 0, now) == 2
    assert contiguous_horizon([(1, old), (3, old), (4, young)], 0, now) == 4  # 2 rolled back
    assert contiguous_horizon([], 7, now) == 7
    # the tail reaches back past the grace period: the gap-free window anchors the horizon
    tail = [(i, old if i < 50 else young) for i in range(1, TAIL_WINDOW + 200)][::-1]
    assert safe_horizon(tail[: TAIL_WINDOW + 1], 0, now) is None  # all young: scan forward
    old_tail = [(i, old) for i in range(1, TAIL_WINDOW + 200)][::-1]
    assert safe_horizon(old_tail[: TAIL_WINDOW + 1], 0, now) == TAIL_WINDOW + 199


def test_a_live_reader_starts_below_an_event_still_committing() -> None:
    now = Millis(10_000_000)
    young, old = now - 10, now - GAP_GRACE_MS - 1
    assert settled_head([], now) == 0
    # id 3 is still committing (5 and 4 are in): a live reader must start at 2, or miss 3
    assert settled_head([(5, young), (4, young), (2, old), (1, old)], now) == 2
    assert settled_head([(5, old), (4, old), (2, old), (1, old)], now) == 5  # 3 rolled back
    full = [(i, young) for i in range(5000, 5000 - TAIL_WINDOW - 1, -1)]
    assert settled_head(full, now) == 5000
    holed = [(i, young) for i in range(5000, 5000 - TAIL_WINDOW - 2, -1) if i != 4990]
    assert settled_head(holed, now) == 4989
