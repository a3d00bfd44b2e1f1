"""The scanner: real tags in prose; code spans, code fences and HTML comments are mentions."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.tags.grammar import compile_pattern
from ats.tags.scan import Hit, scan, tags_line

X = compile_pattern("#delegated-x")


def found(text: str, pattern: str = "#delegated-*") -> list[str]:
    return [hit.tag for hit in scan(text, compile_pattern(pattern))]


def test_a_hit_says_where_and_on_which_line() -> None:
    text = "# Title\r\n**Tags**: #a #delegated-x\r\n\r\nDo #delegated-x now.\r\n"
    assert scan(text, X, Path("n.md")) == [
        Hit(Path("n.md"), 2, 13, "#delegated-x", "**Tags**: #a #delegated-x", True),
        Hit(Path("n.md"), 4, 3, "#delegated-x", "Do #delegated-x now.", False),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "`#delegated-x`",
        "use `` a ` #delegated-x `` here",
        "```#delegated-x``` inline triple",
        "a `span\nover #delegated-x two` lines",
        "<!-- #delegated-x -->",
        "<!--\nclaimed #delegated-x\n-->",
    ],
)
def test_inline_code_and_comments_are_mentions(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "```\n#delegated-x\n```\n",
        "```python\n# #delegated-x\n```",
        "~~~\n#delegated-x\n~~~\n",
        "  ```\n  #delegated-x\n  ```\n",
        "> ```\n> #delegated-x\n> ```\n",
        "````\n```\n#delegated-x\n```\n#delegated-x\n````\n",
        "~~~~\n~~~\n#delegated-x\n",
        "```\nno closing fence\n\n#delegated-x\n",
        "```\n~~~\n#delegated-x\n~~~\n```\n",
    ],
    ids=["backticks", "info", "tildes", "indented", "quote", "longer", "short-close", "unclosed",
         "other-char"],
)  # fmt: skip
def test_fenced_blocks_are_mentions(text: str) -> None:
    assert found(text) == []


def test_prose_after_a_closed_fence_counts_again() -> None:
    text = "```\n#delegated-a\n```\n#delegated-b\n~~~~\n#delegated-c\n~~~~~\n#delegated-d"
    assert found(text) == ["#delegated-b", "#delegated-d"]


def test_an_unmatched_backtick_is_literal() -> None:
    # CommonMark: a run without a closing run of the same length opens nothing.
    assert found("a ` lone tick #delegated-a") == ["#delegated-a"]
    assert found("``two #delegated-a` one") == ["#delegated-a"]
    assert found(r"\`escaped #delegated-a\`") == ["#delegated-a"]


def test_a_code_span_stops_at_a_blank_line() -> None:
    assert found("a `open\n\n#delegated-a `close") == ["#delegated-a"]


def test_an_unclosed_comment_is_text() -> None:
    assert found("<!-- #delegated-a") == ["#delegated-a"]


def test_a_backtick_fence_with_a_backtick_in_its_info_is_inline_code() -> None:
    assert found("``` a ` b ```#delegated-a\n#delegated-b") == ["#delegated-a", "#delegated-b"]


def test_token_boundaries_hold_in_the_scanner() -> None:
    text = "#needs-reviewer `#needs-review` #needs-review"
    assert [h.column for h in scan(text, compile_pattern("#needs-review"))] == [32]


def test_tags_line_is_found_outside_code_only() -> None:
    assert tags_line(["# T", "**Tags**: #a", "x"]) == 1
    assert tags_line(["# T", "```", "**Tags**: #a", "```", "**Tags:** #b"]) == 4
    assert tags_line(["# T", "Tags: #a"]) is None
    assert tags_line([]) is None


def test_hits_on_the_tags_line_are_marked() -> None:
    hits = scan("**Tags**: #delegated-a\nand #delegated-b", compile_pattern("#delegated-*"))
    assert [h.on_tags_line for h in hits] == [True, False]


def test_bytes_that_are_not_utf8_do_not_glue_into_tags() -> None:
    text = b"caf\xe9#delegated-a \xff #delegated-b".decode("utf-8", "surrogateescape")
    assert found(text) == ["#delegated-b"]
