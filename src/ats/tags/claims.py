"""Leases and bookkeeping for tags in files, kept as HTML comments on the line of the tag.

A claim carries who and when, right next to the tag it explains::

    **Tags**: #claimed-fix <!-- ats:claimed-fix by=alice at=2026-11-22T04:00:00Z -->

The grammar is ``<!-- ats:KIND-NOUN key=value ... -->`` with KIND one of ``claimed`` (``by``,
``at``: who claimed and when; ``review --stale`` reads it), ``next`` (``at``: when the requester
parked it as ``#next-NOUN``) and ``task`` (``key``: the id ``publish`` gave the item, also the
payload key of its ATS task). Values are percent-encoded, so a name with spaces stays one value.
Comments are invisible in rendered Markdown and the tag scanner ignores them, so they never turn
into tags themselves. A mark is dropped when its state ends (``#claimed-X`` released or done).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from ats.errors import InvalidInput
from ats.tags.grammar import compile_pattern
from ats.tags.scan import scan

_MARK = re.compile(
    r"[ \t]*<!--[ \t]*ats:(?P<kind>[a-z]+)-(?P<noun>[a-z][a-z0-9-]*)"
    r"(?P<fields>(?:[ \t]+[a-z]+=[^\s>]*)*)[ \t]*-->"
)
_FIELD = re.compile(r"([a-z]+)=([^\s>]*)")
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

LineEdit = Callable[[str], str]


def _same(line: str) -> str:
    return line


@dataclass(frozen=True, slots=True)
class Mark:
    kind: str  # claimed | next | task
    noun: str
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def at(self) -> datetime | None:
        return parse_stamp(self.fields.get("at", ""))

    def render(self) -> str:
        values = "".join(f" {k}={quote(v, safe='@:._+-')}" for k, v in self.fields.items())
        return f"<!-- ats:{self.kind}-{self.noun}{values} -->"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1h30m`` → timedelta; InvalidInput otherwise."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise InvalidInput(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 1d, 1h30m)")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def claim_mark(noun: str, by: str, at: datetime) -> Mark:
    return Mark("claimed", noun, {"by": by, "at": stamp(at)})


def marks(line: str) -> list[Mark]:
    found = []
    for m in _MARK.finditer(line):
        fields = {k: unquote(v) for k, v in _FIELD.findall(m["fields"])}
        found.append(Mark(m["kind"], m["noun"], fields))
    return found


def find_mark(line: str, kind: str, noun: str) -> Mark | None:
    return next((m for m in marks(line) if m.kind == kind and m.noun == noun), None)


def _split_eol(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body) :]


def drop_mark(line: str, kind: str, noun: str) -> str:
    """The line without its ``KIND-NOUN`` mark (unchanged when there is none)."""
    body, eol = _split_eol(line)

    def keep(m: re.Match[str]) -> str:
        return "" if (m["kind"], m["noun"]) == (kind, noun) else m[0]

    return _MARK.sub(keep, body) + eol


def set_mark(line: str, mark: Mark) -> str:
    """The line with ``mark`` at its end, replacing an older mark of the same kind and noun."""
    body, eol = _split_eol(drop_mark(line, mark.kind, mark.noun))
    return f"{body.rstrip()} {mark.render()}{eol}"


def _cut(line: str, column: int, length: int) -> str:
    """``line`` without the ``length`` characters at ``column`` and one separator next to them."""
    before, after = line[:column], line[column + length :]
    if after.startswith(", "):  # '#a, #b' → '#b'
        after = after[2:]
    elif before.endswith(", "):  # '#a, #b' → '#a'
        before = before[:-2]
    elif before.endswith((" ", "\t")):
        before = before[:-1]
    elif after.startswith((" ", "\t")):
        after = after[1:]
    return before + after


def retag(
    text: str, line: int, old: str, new: str | None, edit_line: LineEdit = _same
) -> str | None:
    """``text`` with the tag ``old`` replaced by ``new`` (removed when None) and ``edit_line``
    applied to that line; None when ``old`` is no longer in the text (someone else took it).

    The occurrence on ``line`` is preferred; if the lines moved since the scan, the first real
    occurrence is used. Code and comments are never touched: only what the scanner calls a tag.
    """
    hits = scan(text, compile_pattern(old))
    if not hits:
        return None
    hit = next((h for h in hits if h.line == line), hits[0])
    # split("\n") (not splitlines) numbers lines exactly as the scanner does.
    lines = text.split("\n")
    current = lines[hit.line - 1]
    if new is None:
        edited = _cut(current, hit.column, len(old))
    else:
        edited = current[: hit.column] + new + current[hit.column + len(old) :]
    lines[hit.line - 1] = edit_line(edited)
    return "\n".join(lines)
