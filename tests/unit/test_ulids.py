"""Monotonic ULIDs: text order is id order, and never below the last one handed out."""

from __future__ import annotations

import pytest

from ats.ulids import after_millis, canonical, millis, next_ids


def test_ids_grow_within_a_millisecond_and_when_the_clock_steps_back() -> None:
    batch = next_ids("", 1_000, 500)
    assert batch == sorted(batch) and len(set(batch)) == 500
    assert all(millis(i) == 1_000 for i in batch)
    behind = next_ids(batch[-1], 900, 3)  # the clock went back 100 ms
    assert behind[0] > batch[-1] and behind == sorted(behind)
    ahead = next_ids(behind[-1], 2_000, 1)
    assert ahead[0] > behind[-1] and millis(ahead[0]) == 2_000


def test_time_boundaries_and_parsing() -> None:
    [inside] = next_ids("", 5_000, 1)
    assert after_millis(4_999) < inside <= after_millis(5_000)
    assert canonical(inside.lower()) == inside
    for bad in ("", "short", "!" * 26, "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"):  # the last overflows 128 bits
        with pytest.raises(ValueError):
            canonical(bad)
