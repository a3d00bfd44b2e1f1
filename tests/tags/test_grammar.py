"""The tag grammar: what is a tag, what a pattern matches, and on which boundaries."""

from __future__ import annotations

import pytest

from ats.errors import InvalidInput
from ats.tags.grammar import TAG, InvalidTag, check_tag, compile_pattern, literal_prefix, noun


def tags(pattern: str, text: str) -> list[str]:
    return [m.group() for m in compile_pattern(pattern).finditer(text)]


@pytest.mark.parametrize("text", ["#needs-review", "needs-review", "#a", "#x2-y-", "#fix9"])
def test_check_tag_accepts_the_grammar_with_or_without_hash(text: str) -> None:
    assert check_tag(text) == "#" + text.lstrip("#")


@pytest.mark.parametrize(
    "text", ["", "#", "##a", "#Needs", "#9lives", "#-x", "#a b", "#a_b", "#é", "#a*", "a#b"]
)
def test_check_tag_refuses_anything_else_and_names_the_tag(text: str) -> None:
    with pytest.raises(InvalidTag) as raised:
        check_tag(text)
    assert repr(text) in raised.value.message
    assert "lowercase letter" in raised.value.message
    assert isinstance(raised.value, InvalidInput)  # the CLI maps it to exit 2


def test_tag_regex_is_the_spec_grammar() -> None:
    assert TAG.fullmatch("#needs-review-2")
    assert not TAG.fullmatch("#2needs")


def test_exact_tag_never_matches_a_longer_tag() -> None:
    text = "#needs-reviewer #needs-review-2 #needs-review_x #needs-reviewÉ #needs-review."
    assert tags("#needs-review", text) == ["#needs-review"]
    assert tags("delegated-fix", "#delegated-fixture #delegated-fix,") == ["#delegated-fix"]
    assert tags("#a", "#a#b #a/b #a") == ["#a"]


@pytest.mark.parametrize(
    "text",
    [
        "issue#needs-review",
        "see a.md#needs-review",
        "http://x/#needs-review",
        "?a=#needs-review",
        "&#needs-review;",
        "##needs-review",
        r"\#needs-review",
        "C_#needs-review",
    ],
)
def test_a_hash_glued_to_a_word_url_or_entity_is_no_tag(text: str) -> None:
    assert tags("#needs-review", text) == []


@pytest.mark.parametrize("text", ["#needs-review", "(#needs-review)", "**Tags**:#needs-review"])
def test_punctuation_before_a_tag_is_fine(text: str) -> None:
    assert tags("#needs-review", text) == ["#needs-review"]


def test_star_globs_within_one_tag_only() -> None:
    text = "#delegated-fix #delegated-a-b #delegated #delegatedx #needs-fix #delegated-fix#other"
    assert tags("#delegated-*", text) == ["#delegated-fix", "#delegated-a-b"]
    assert tags("*-fix", text) == ["#delegated-fix", "#needs-fix"]
    assert tags("*", "#a #b-c, `x` #D") == ["#a", "#b-c"]
    assert tags("d*d-*", text) == ["#delegated-fix", "#delegated-a-b"]


@pytest.mark.parametrize("glob", ["", "#", "#Delegated-*", "1-*", "-*", "a b", "a?", "#a/b"])
def test_a_glob_that_can_never_be_a_tag_is_refused(glob: str) -> None:
    with pytest.raises(InvalidTag, match="invalid tag pattern"):
        compile_pattern(glob)


def test_literal_prefix_feeds_the_prefilter() -> None:
    assert literal_prefix(compile_pattern("#delegated-*")) == "#delegated-"
    assert literal_prefix(compile_pattern("needs-review")) == "#needs-review"
    assert literal_prefix(compile_pattern("*-fix")) == "#"
    assert literal_prefix(compile_pattern("a*b")) == "#a"


def test_noun() -> None:
    assert noun("#delegated-fix", "delegated") == "fix"
    assert noun("#delegated-fix-it", "#delegated-") == "fix-it"
    assert noun("#needs-fix", "delegated") is None
    assert noun("#delegated-", "delegated") is None
    assert noun("#delegatedfix", "delegated") is None
