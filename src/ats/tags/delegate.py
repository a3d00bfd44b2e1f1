"""The claim step of delegation: collect ``#delegated-X`` items, let someone choose, swap them.

Pure except for reading files and the locked write of each claim. Asking a person is the
caller's business (a ``Choose`` callback per group), so the CLI, ``watch`` and the tests share
exactly this code. A claim is one locked read-modify-write of the file: the tag becomes
``#claimed-X`` and the claim mark (``claims.py``: who, when) lands on the same line, so nobody
ever sees one without the other. When the tag is gone by the time the lock is held, another
worker took the item: that is an outcome to report, not an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ats.errors import InvalidInput
from ats.tags.claims import Mark, claim_mark, marks, retag, set_mark
from ats.tags.edit import inside, replace_all
from ats.tags.find import find
from ats.tags.grammar import check_tag, noun
from ats.tags.summary import summarize
from ats.tags.table import NOUN, Route, Table

_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


@dataclass(frozen=True, slots=True)
class Item:
    """One tagged item: the tag ``#STATE-NOUN`` on one line of one file."""

    path: Path
    line: int  # 1-based, as scanned
    tag: str  # '#delegated-fix'
    noun: str  # 'fix'
    summary: str
    marks: tuple[Mark, ...] = ()  # the ats comments on the tag's line
    # The trees it was found under (the scanned PATHS, symlinks resolved): every edit of the item
    # stays there, so a symlink in the tree never lets delegation write outside it.
    within: tuple[Path, ...] = ()

    def mark(self, kind: str) -> Mark | None:
        return next((m for m in self.marks if m.kind == kind and m.noun == self.noun), None)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


Choose = Callable[[Route, list[Item]], list[Item]]  # the items of a group to claim


@dataclass(slots=True)
class Outcome:
    claimed: dict[str, list[Item]] = field(default_factory=dict)  # noun → items, table order
    skipped: list[Item] = field(default_factory=list)
    taken: list[Item] = field(default_factory=list)  # already claimed by another worker

    @property
    def claimed_count(self) -> int:
        return sum(len(items) for items in self.claimed.values())


def parse_noun(text: str, state: str = "delegated") -> str:
    """``fix`` or ``#delegated-fix`` → ``fix``; InvalidInput for anything else."""
    if text.startswith("#"):
        tag = check_tag(text)
        found = noun(tag, state)
        if found is None:
            raise InvalidInput(f"{text!r} is not a #{state}-NOUN tag")
        return found
    if not NOUN.fullmatch(text):
        raise InvalidInput(f"invalid noun {text!r}: use [a-z][a-z0-9-]* or #{state}-NOUN")
    return text


def read_text(path: Path) -> str:
    # Same decoding as the finder: bytes that are not UTF-8 survive, they are not our business.
    return path.read_bytes().decode("utf-8", "surrogateescape")


def display_path(path: Path, cwd: Path | None = None) -> Path:
    """``path`` relative to ``cwd`` when it is below it (watchfiles reports absolute paths)."""
    base = os.fspath(cwd or Path.cwd())
    absolute = os.path.abspath(path)
    if absolute.startswith(base.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(absolute, base))
    return path


def collect(
    state: str,
    paths: Sequence[Path],
    nouns: Collection[str] | None = None,
    *,
    within: Sequence[Path] | None = None,
) -> list[Item]:
    """Every ``#STATE-NOUN`` item under ``paths`` (limited to ``nouns`` when given) whose real
    file lies under ``within`` (default: ``paths``): a symlink to a file elsewhere is skipped."""
    trees = tuple(Path(os.path.realpath(p)) for p in (paths if within is None else within))
    texts: dict[Path, str] = {}
    found: list[Item] = []
    for hit in find(f"#{state}-*", paths):
        name = noun(hit.tag, state)
        if name is None or (nouns is not None and name not in nouns):
            continue
        if hit.path not in texts:
            if not inside(hit.path, trees):
                continue
            try:
                texts[hit.path] = read_text(hit.path)
            except OSError:  # deleted since the scan: nothing left to offer
                continue
        summary = summarize(hit.path, texts[hit.path], hit.line, hit.on_tags_line)
        line_marks = tuple(marks(hit.text))
        path = display_path(hit.path)
        found.append(Item(path, hit.line, hit.tag, name, summary, line_marks, trees))
    return found


def group(items: Sequence[Item], table: Table) -> list[tuple[Route, list[Item]]]:
    """Items by noun, nouns in the table's priority order (the order of ``--yes``)."""
    by_noun: dict[str, list[Item]] = {}
    for item in items:
        by_noun.setdefault(item.noun, []).append(item)
    return [(table.route(n), by_noun[n]) for n in table.order(by_noun)]


def parse_selection(text: str, count: int) -> list[int]:
    """``'1,3-4'`` → ``[0, 2, 3]`` (0-based, sorted); InvalidInput when out of ``1..count``."""
    chosen: set[int] = set()
    for part in filter(None, (p.strip() for p in text.replace(" ", ",").split(","))):
        m = _RANGE.fullmatch(part)
        if m is None:
            raise InvalidInput(f"not a number or range: {part!r} (e.g. 1,3-4)")
        low, high = int(m[1]), int(m[2] or m[1])
        if not 1 <= low <= high <= count:
            raise InvalidInput(f"{part!r} is not within 1-{count}")
        chosen.update(range(low - 1, high))
    return sorted(chosen)


def claim_item(item: Item, by: str, now: datetime | None = None) -> bool:
    """Swap the item's tag to ``#claimed-NOUN`` with the claim mark, in one locked write.

    False when the tag is no longer there: another worker claimed it first.
    """
    mark = claim_mark(item.noun, by, now or datetime.now(UTC))
    new = f"#claimed-{item.noun}"

    def change(text: str) -> str | None:
        return retag(text, item.line, item.tag, new, lambda line: set_mark(line, mark))

    return replace_all(item.path, change, within=item.within)


def claim(
    groups: Sequence[tuple[Route, list[Item]]],
    choose: Choose,
    by: str,
    now: datetime | None = None,
) -> Outcome:
    """Ask ``choose`` per group, then claim what it chose; report the rest as skipped."""
    outcome = Outcome()
    for route, items in groups:
        chosen = choose(route, items)
        wanted = {id(i) for i in chosen}
        outcome.skipped.extend(i for i in items if id(i) not in wanted)
        for item in chosen:
            if claim_item(item, by, now):
                outcome.claimed.setdefault(route.noun, []).append(item)
            else:
                outcome.taken.append(item)
    return outcome


def everything(route: Route, items: list[Item]) -> list[Item]:
    """The ``--yes`` choice: claim every item."""
    return items


def dispatchable_only(route: Route, items: list[Item]) -> list[Item]:
    """The unattended choice of ``watch --yes``: what needs a person is left for a person."""
    return items if route.dispatchable else []


def check_paths(paths: Sequence[Path]) -> None:
    """InvalidInput, before anything is read or written, for a path that does not exist.

    PATHS may lie anywhere (absolute, relative, from any directory); edits stay under them.
    """
    for path in paths:
        if not os.path.exists(path):
            raise InvalidInput(f"{path}: no such file or directory", path=str(path))
