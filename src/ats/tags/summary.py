"""One-line summaries of delegated items, so a person can decide without opening the file.

- REQUEST files (the name starts with ``REQUEST``, or the text has ``Topic`` / ``Context`` /
  ``Expectations`` fields, as ``**Topic**: …`` lines or ``## Topic`` sections):
  ``Topic: … · Context: … · Expectations: …``.
- A tag on the ``**Tags**:`` line of any other file: ``H1 — first paragraph``.
- An inline tag: ``§ enclosing section heading: the line``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ats.tags.scan import is_tags_line

WIDTH = 160
FIELDS = ("Topic", "Context", "Expectations")
_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_BOLD_FIELD = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+)?\*\*(?P<name>[A-Za-z]+)(?:\*\*[ \t]*:|:\*\*)[ \t]*(?P<value>.*)$"
)
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _clean(text: str) -> str:
    return " ".join(_COMMENT.sub("", text).split())


def shorten(text: str, width: int = WIDTH) -> str:
    text = _clean(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _prose_lines(text: str) -> list[str | None]:
    """The lines of ``text``; None for lines inside fenced code (never summarised)."""
    lines: list[str | None] = []
    fence: str | None = None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0]
            lines.append(None)
        elif fence is not None:
            if m and m.group(1)[0] == fence:
                fence = None
            lines.append(None)
        else:
            lines.append(line)
    return lines


def _paragraph(lines: list[str | None], start: int) -> str:
    """The first paragraph at or after ``start``: skip blanks, stop at a blank, heading or code."""
    out: list[str] = []
    for line in lines[start:]:
        if line is None or _HEADING.match(line) or is_tags_line(line) or _BOLD_FIELD.match(line):
            if out:
                break
            continue
        if not line.strip():
            if out:
                break
            continue
        out.append(line.strip())
    return " ".join(out)


def _fields(lines: list[str | None]) -> dict[str, str]:
    found: dict[str, str] = {}
    for k, line in enumerate(lines):
        if line is None:
            continue
        bold, heading = _BOLD_FIELD.match(line), _HEADING.match(line)
        name = bold["name"] if bold else heading.group(2) if heading else ""
        field = next((f for f in FIELDS if f.lower() == name.strip().lower()), None)
        if field is None or field in found:
            continue
        value = bold["value"].strip() if bold else ""
        found[field] = value or _paragraph(lines, k + 1)
    return found


def _title(lines: list[str | None], path: Path) -> tuple[str, int]:
    for k, line in enumerate(lines):
        m = _HEADING.match(line) if line is not None else None
        if m and len(m.group(1)) == 1:
            return m.group(2), k + 1
    return path.name, 0


def _before(lines: list[str | None], index: int) -> list[str]:
    """The prose lines above ``index``, nearest first."""
    return [line for line in reversed(lines[:index]) if line is not None]


def summarize(path: Path, text: str, line: int, on_tags_line: bool) -> str:
    """The one-line summary of the item tagged on ``line`` (1-based) of ``text``."""
    lines = _prose_lines(text)
    if not on_tags_line:
        heading = next(
            (m.group(2) for m in map(_HEADING.match, _before(lines, line - 1)) if m), None
        )
        where = heading or _title(lines, path)[0]
        return shorten(f"§ {where}: {lines[line - 1] or ''}")
    fields = _fields(lines)
    if fields or path.name.upper().startswith("REQUEST"):
        parts = [f"{name}: {_clean(fields[name])}" for name in FIELDS if fields.get(name)]
        if parts:
            return shorten(" · ".join(parts))
    title, after = _title(lines, path)
    first = _paragraph(lines, after)
    return shorten(f"{title} — {first}" if first else title)
