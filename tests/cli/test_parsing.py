"""--since and --priority as people type them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer

from ats.cli.parsing import PriorityFilter, parse_ids, parse_priority_filter, parse_since

NOW = datetime(2026, 2, 25, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", "2026-02-25T11:30:00.000Z"),
        ("4h", "2026-02-25T08:00:00.000Z"),
        ("1d", "2026-02-24T12:00:00.000Z"),
        ("2w", "2026-02-11T12:00:00.000Z"),
        ("2026-02-20T10:00:00Z", "2026-02-20T10:00:00.000Z"),
    ],
)
def test_since_relative_and_absolute(text: str, expected: str) -> None:
    assert parse_since(text, now=NOW) == expected


def test_since_calendar_words_are_local_midnight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        assert parse_since("today", now=NOW) == "2026-02-25T00:00:00.000Z"
        assert parse_since("yesterday", now=NOW) == "2026-02-24T00:00:00.000Z"
        assert parse_since("2026-01-31", now=NOW) == "2026-01-31T00:00:00.000Z"
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("text", ["soon", "3x", "2026-13-01", ""])
def test_since_rejects_nonsense(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_since(text, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8", PriorityFilter(priority=8)),
        ("7+", PriorityFilter(min_priority=7)),
        ("5-8", PriorityFilter(min_priority=5, max_priority=8)),
    ],
)
def test_priority_forms(text: str, expected: PriorityFilter) -> None:
    assert parse_priority_filter(text) == expected


@pytest.mark.parametrize("text", ["0", "11", "8-5", "high", "+", "5-"])
def test_priority_rejects_out_of_range_and_nonsense(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_priority_filter(text)


def test_ids() -> None:
    assert parse_ids("1,2, #3") == [1, 2, 3]
    with pytest.raises(typer.BadParameter):
        parse_ids("1,x")
