"""The tag grammar (SPEC §8): ``#`` + ``[a-z][a-z0-9-]*``, matched on token boundaries.

A pattern is a tag or a glob (``#delegated-*``), with or without its ``#``; ``*`` stands for any run
of tag characters *within one tag*. Compiled patterns carry the boundaries on both sides, so
``#needs-review`` never matches inside ``#needs-reviewer`` and ``#delegated-fix`` never inside
``#delegated-fixture``.

Stdlib only: ``ats tag find`` is a hot path and must not drag the rest of ATS in.
"""

from __future__ import annotations

import re

from ats.errors import InvalidInput

GRAMMAR = "'#' followed by a lowercase letter, then lowercase letters, digits or '-'"

TAG: re.Pattern[str] = re.compile(r"#[a-z][a-z0-9-]*")

# What may NOT stand right before the '#' of a tag. Word characters: 'issue#12', 'a.md#anchor',
# 'C#'. '#': '##tag' is a heading marker run. '/' and '=': URL fragments ('http://x/#frag',
# '?a=#b'). '&': HTML entities ('&#x27;'). '\': a Markdown escape ('\#tag' is literal text).
# '.', '-', '@': 'v1.#x', 'foo-#x', 'me@#x' read as one token, not as a tag after punctuation.
# \udc80-\udcff: bytes that were not UTF-8 (decoded with surrogateescape) count as word characters.
# It is checked from *after* the '#', so the regex starts with a literal and the engine can jump
# from '#' to '#' (several times faster than a leading lookbehind tried at every position).
_BEFORE = r"(?<![\w#/=&\\.@\udc80-\udcff-]#)"
# What may not follow the tag: anything that would make the token longer ('#needs-reviewer',
# '#needs-review-2', '#needs-review_x', '#needs-reviewÉ'), or glue another one to it ('#a#b', and
# '#a/b', a nested tag in Obsidian's syntax, which is not '#a').
_AFTER = r"(?![\w#/\udc80-\udcff-])"
# '(?=[a-z])' keeps the grammar's first character when a glob starts with '*'.
_LEAD = "#" + _BEFORE + "(?=[a-z])"
_STAR = "[a-z0-9-]*"
_GLOB = re.compile(r"[a-z*][a-z0-9*-]*")


class InvalidTag(InvalidInput):
    """A tag or pattern that does not follow the grammar; the message names it."""


def check_tag(text: str) -> str:
    """``'needs-review'`` or ``'#needs-review'`` → ``'#needs-review'``; InvalidTag otherwise."""
    tag = text if text.startswith("#") else f"#{text}"
    if TAG.fullmatch(tag) is None:
        raise InvalidTag(f"invalid tag {text!r}: a tag is {GRAMMAR}", tag=text)
    return tag


def compile_pattern(glob: str) -> re.Pattern[str]:
    """A tag or glob (``#delegated-*``, ``delegated-*``, ``*``) → a regex matching whole tags.

    The match is exactly the tag (the boundaries are lookarounds), so ``match.group()`` is the
    tag found. InvalidTag when no tag could ever match.
    """
    body = glob[1:] if glob.startswith("#") else glob
    if _GLOB.fullmatch(body) is None:
        raise InvalidTag(
            f"invalid tag pattern {glob!r}: a tag is {GRAMMAR}; '*' matches within one tag",
            tag=glob,
        )
    body = re.sub(r"\*+", "*", body)  # "**" would only make the regex backtrack more
    return re.compile(_LEAD + body.replace("*", _STAR) + _AFTER)


def literal_prefix(pattern: re.Pattern[str]) -> str:
    """The text every match starts with (``'#delegated-'`` for ``#delegated-*``), for prefilters.

    Only patterns made by compile_pattern are understood; for any other the answer is ``'#'``.
    """
    source = pattern.pattern
    if not source.startswith(_LEAD):
        return "#"
    # The body is literal tag characters (no escaping needed outside a class) up to the first '['.
    body = source[len(_LEAD) :].split("[", 1)[0].split("(", 1)[0]
    return "#" + body


def noun(tag: str, prefix: str) -> str | None:
    """``noun('#delegated-fix', 'delegated')`` → ``'fix'``; None when the tag has another prefix."""
    head = "#" + prefix.lstrip("#").rstrip("-") + "-"
    if not tag.startswith(head) or len(tag) == len(head):
        return None
    return tag[len(head) :]
