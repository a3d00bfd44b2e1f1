"""Find the real tags in one Markdown text: prose only, never code, never comments.

A tag inside ``inline code`` (any backtick run length) or a fenced code block (```` ``` ```` or
``~~~``, three or more, closed by a fence of the same character at least as long; an unclosed fence
runs to the end) is a *mention*, not a tag. HTML comments ``<!-- … -->`` are skipped too: the
delegation code keeps claim metadata there. This is CommonMark "roughly": fences are recognised at
any indentation and inside block quotes, a code span may run over lines but not over a blank line,
and indented code blocks are prose (list continuations are indented too, and hold real tags).

Stdlib only (``ats tag find`` is a hot path).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

_TAGS_LINE = re.compile(r"[ \t]*\*\*Tags(?:\*\*:|:\*\*)")
_TAGS_MARK = re.compile(r"\*\*Tags(?:\*\*:|:\*\*)")
# Prose is skipped with str.find (C speed); sre is only used from a known position, or with a
# literal first character: a pattern that starts with a repeat or a class scans ~15x slower.
_BLANK_LINE = re.compile(r"\n[ \t>]*\r?\n")  # a code span cannot run over it


@dataclass(frozen=True, slots=True)
class Hit:
    path: Path
    line: int  # 1-based
    column: int  # 0-based character offset of the '#' in the line
    tag: str  # the tag found, '#delegated-fix'
    text: str  # the whole line, without its line ending
    on_tags_line: bool  # found on a '**Tags**:' line


def _run_end(text: str, i: int) -> int:
    """End of the run of ``text[i]`` characters that starts at ``i``."""
    char, end = text[i], i + 1
    while end < len(text) and text[end] == char:
        end += 1
    return end


def _runs(text: str, fence: str) -> list[tuple[int, int]]:
    """(start, length) of each run of at least three ``fence[0]`` characters."""
    runs = []
    i = text.find(fence)
    while i >= 0:
        end = _run_end(text, i)
        runs.append((i, end - i))
        i = text.find(fence, end)
    return runs


def _fences(text: str) -> list[tuple[int, int]]:
    """The fenced code blocks: from the opening line's start to the closing line's end."""
    runs = sorted(_runs(text, "```") + _runs(text, "~~~")) if "```" in text or "~~~" in text else []
    fences: list[tuple[int, int]] = []
    opened: tuple[int, str, int] | None = None  # (line start, fence character, run length)
    for start, length in runs:
        line_start = text.rfind("\n", 0, start) + 1
        if text[line_start:start].strip(" \t>"):  # not at a line start (indent, '>' allowed)
            continue
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        char, rest = text[start], text[start + length : line_end]
        if opened is None:
            # A backtick fence's info string may not hold a backtick: then it is inline code.
            if char == "~" or "`" not in rest:
                opened = (line_start, char, length)
        elif char == opened[1] and length >= opened[2] and not rest.strip():
            fences.append((opened[0], line_end))
            opened = None
    if opened is not None:  # an unclosed fence runs to the end
        fences.append((opened[0], len(text)))
    return fences


def _escaped(text: str, at: int) -> bool:
    """True if the character at ``at`` is escaped: an odd number of backslashes before it."""
    k = at
    while k > 0 and text[k - 1] == "\\":
        k -= 1
    return (at - k) % 2 == 1


def _closing_run(text: str, start: int, length: int, end: int) -> int:
    """End of the first run of exactly ``length`` backticks in ``text[start:end]``, or -1."""
    i = text.find("`", start, end)
    while i >= 0:
        run_end = _run_end(text, i)
        if run_end - i == length:
            return run_end
        i = text.find("`", run_end, end)
    return -1


def _inline(text: str, start: int, end: int, ranges: list[tuple[int, int]]) -> None:
    """Append the code spans and comments of ``text[start:end]`` (prose between fences)."""
    i, paragraph_end = start, -1
    unclosed: dict[int, int] = {}  # run length -> the paragraph in which no such run is left
    comment = text.find("<!--", start, end)
    while True:
        tick = text.find("`", i, end)
        if comment >= 0 and comment < i:
            comment = text.find("<!--", i, end)
        if comment >= 0 and (tick < 0 or comment < tick):
            close = text.find("-->", comment + 4, end)
            if close < 0:  # not a comment: literal text, and no later '<!--' closes either
                comment = -1
                continue
            ranges.append((comment, close + 3))
            i = close + 3
            continue
        if tick < 0:
            return
        run_end = _run_end(text, tick)
        i = run_end
        if _escaped(text, tick):  # '\``' is a literal backtick, then a run one shorter
            tick += 1
            if tick == run_end:
                continue
        # A backtick run opens a code span if a run of the same length follows in the paragraph.
        # The paragraph's end is cached: searching it afresh for each span is quadratic.
        if run_end > paragraph_end:
            blank = _BLANK_LINE.search(text, run_end, end)
            paragraph_end = end if blank is None else blank.start()
            unclosed.clear()
        length = run_end - tick
        if unclosed.get(length) == paragraph_end:
            continue
        close_end = _closing_run(text, run_end, length, paragraph_end)
        if close_end < 0:  # later runs of this length in this paragraph cannot close either
            unclosed[length] = paragraph_end
            continue
        ranges.append((tick, close_end))
        i = close_end


def code_ranges(text: str) -> list[tuple[int, int]]:
    """Sorted, disjoint ``[start, end)`` ranges of ``text`` that are code or comments, not prose."""
    ranges: list[tuple[int, int]] = []
    prose = 0
    for start, end in _fences(text):
        _inline(text, prose, start, ranges)
        ranges.append((start, end))
        prose = end
    _inline(text, prose, len(text), ranges)
    return ranges


def _outside(ranges: list[tuple[int, int]], starts: list[int], offset: int) -> bool:
    k = bisect_right(starts, offset) - 1
    return k < 0 or offset >= ranges[k][1]


def real_matches(text: str, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    """The matches of ``pattern`` in ``text`` that are real tags (not code, not comments)."""
    matches = list(pattern.finditer(text))
    if not matches or ("`" not in text and "~" not in text and "<!--" not in text):
        return matches
    ranges = code_ranges(text)
    starts = [r[0] for r in ranges]
    return [m for m in matches if _outside(ranges, starts, m.start())]


def is_tags_line(line: str) -> bool:
    return _TAGS_LINE.match(line) is not None


def first_outside(text: str, pattern: re.Pattern[str]) -> re.Match[str] | None:
    """The first match of ``pattern`` in ``text`` that is not in code or a comment."""
    matches = pattern.finditer(text)
    first = next(matches, None)
    if first is None or ("`" not in text and "~" not in text and "<!--" not in text):
        return first
    ranges = code_ranges(text)
    starts = [r[0] for r in ranges]
    for m in (first, *matches):
        if _outside(ranges, starts, m.start()):
            return m
    return None


def tags_line_match(text: str) -> re.Match[str] | None:
    """The ``**Tags**:`` marker of the first Tags line outside code (``.end()`` is after ':')."""
    if "**Tags" not in text:
        return None
    ranges: list[tuple[int, int]] | None = None
    for m in _TAGS_MARK.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if text[line_start : m.start()].strip(" \t"):
            continue
        if ranges is None:
            ranges = code_ranges(text)
        if _outside(ranges, [r[0] for r in ranges], m.start()):
            return m
    return None


def tags_line(lines: list[str]) -> int | None:
    """Index of the first ``**Tags**:`` line outside code, None if there is none."""
    text = "\n".join(lines)
    m = tags_line_match(text)
    return None if m is None else text.count("\n", 0, m.start())


def line_bounds(text: str, offset: int) -> tuple[int, int]:
    """``[start, end)`` of the line holding ``offset``, the end before ``\\r\\n`` or ``\\n``."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    if end > start and text[end - 1] == "\r":
        end -= 1
    return start, end


def scan(text: str, pattern: re.Pattern[str], path: Path = Path("-")) -> list[Hit]:
    """Every real tag in ``text`` matching ``pattern``, in order."""
    hits: list[Hit] = []
    line_no, counted_to = 1, 0
    for m in real_matches(text, pattern):
        offset = m.start()
        line_no += text.count("\n", counted_to, offset)
        counted_to = offset
        start, end = line_bounds(text, offset)
        line = text[start:end]
        hits.append(Hit(path, line_no, offset - start, m.group(), line, is_tags_line(line)))
    return hits
