"""Where a reader of the event log may safely stop (commit order vs id order on PostgreSQL)."""

from __future__ import annotations

from ats.models import Millis
from ats.store.base import GAP_GRACE_MS, TAIL_WINDOW, contiguous_horizon, safe_horizon


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
