"""Claim marks and the one-line summaries: the small formats a person reads in files and prompts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ats.errors import InvalidInput
from ats.tags.claims import (
    Mark,
    claim_mark,
    drop_mark,
    find_mark,
    marks,
    parse_duration,
    retag,
    set_mark,
)
from ats.tags.delegate import parse_selection
from ats.tags.summary import summarize

AT = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def test_claim_mark_round_trips_on_a_tags_line() -> None:
    line = "**Tags**: #claimed-fix #x\n"
    marked = set_mark(line, claim_mark("fix", "Ann Lee", AT))
    assert marked == (
        "**Tags**: #claimed-fix #x <!-- ats:claimed-fix by=Ann%20Lee at=2026-11-22T04:00:00Z -->\n"
    )
    found = find_mark(marked, "claimed", "fix")
    assert found is not None and found.fields["by"] == "Ann Lee" and found.at == AT
    # A newer mark of the same kind and noun replaces the old one; others stay.
    again = set_mark(
        set_mark(marked, Mark("task", "fix", {"key": "k1"})), claim_mark("fix", "b", AT)
    )
    assert [(m.kind, m.fields.get("by")) for m in marks(again)] == [
        ("task", None),
        ("claimed", "b"),
    ]
    assert (
        drop_mark(again, "claimed", "fix")
        == "**Tags**: #claimed-fix #x <!-- ats:task-fix key=k1 -->\n"
    )


def test_retag_edits_the_scanned_occurrence_only() -> None:
    text = "# T\r\n**Tags**: #a, #needs-fix, #b\r\nsee `#needs-fix` and #needs-fix\r\n"
    assert retag(text, 2, "#needs-fix", "#delegated-fix") == text.replace(
        "#a, #needs-fix", "#a, #delegated-fix"
    )
    assert retag(text, 3, "#needs-fix", None) == text.replace(" and #needs-fix", " and")
    assert retag(text, 2, "#needs-fix", None) == text.replace("#needs-fix, ", "", 1)
    assert retag(text, 2, "#needs-fixture", "#x") is None
    # Lines moved since the scan: the first real occurrence is taken.
    assert retag(text, 9, "#needs-fix", "#next-fix") == text.replace(
        "#a, #needs-fix", "#a, #next-fix"
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "-1h", "2h junk"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


def test_selection() -> None:
    assert parse_selection("1,3-4", 5) == [0, 2, 3]
    assert parse_selection(" 2 , 2 ", 3) == [1]
    assert parse_selection("", 3) == []
    for bad in ("0", "6", "2-1", "a", "1-"):
        with pytest.raises(InvalidInput):
            parse_selection(bad, 5)


def test_summary_of_a_request_file_with_bold_fields() -> None:
    text = (
        "# Request\n**Tags**: #delegated-fix <!-- ats:task-fix key=x -->\n\n"
        "**Topic**: Login\n**Context**: Users   cannot\n**Expectations**: Tests\n"
    )
    assert summarize(Path("REQUEST-x.md"), text, 2, True) == (
        "Topic: Login · Context: Users cannot · Expectations: Tests"
    )


def test_summary_of_a_request_file_with_sections() -> None:
    text = "# R\n**Tags**: #delegated-fix\n\n## Topic\n\nLogout\nbutton\n\n## Context\nNone.\n"
    assert summarize(Path("plan.md"), text, 2, True) == "Topic: Logout button · Context: None."


def test_summary_of_another_file_is_h1_and_first_paragraph() -> None:
    text = "# Cache\n**Tags**: #delegated-fix\n\n```\ncode\n```\nStale after\ndeploys.\n\nMore.\n"
    assert summarize(Path("n.md"), text, 2, True) == "Cache — Stale after deploys."
    assert summarize(Path("n.md"), "**Tags**: #delegated-fix\n", 1, True) == "n.md"


def test_summary_of_an_inline_tag_is_its_section_and_line() -> None:
    text = "# Log\n\n## Cache\n\nflush it  #delegated-fix\n"
    assert summarize(Path("log.md"), text, 5, False) == "§ Cache: flush it #delegated-fix"
    long = summarize(Path("log.md"), "# Log\n" + "word " * 100 + "#delegated-fix\n", 2, False)
    assert long.startswith("§ Log: word word") and long.endswith("…") and len(long) == 160
