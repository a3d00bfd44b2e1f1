"""The bridge from files to the task queue: ``ats delegate publish`` and ``ats delegate sync``.

``publish`` turns each ``#delegated-X`` item into a task on channel ``delegated-X`` (the prefix is
configurable), so ``ats dispatch`` can run file-delegated work. Idempotency, in two steps:

1. each item gets a key first, written next to its tag under the file lock
   (``<!-- ats:task-X key=01J… -->``, a ULID; an item that has one keeps it);
2. a task is created only for a key no task on that channel carries yet (``payload.key``).

A crash between the steps leaves a key without a task, created by the next run; a crash after
the create leaves a task that the next run finds by its key. Either way publishing twice creates
nothing new. The key lives in the file rather than being derived from path and line because
lines move and files hold the same tag twice. Run one publisher at a time per tree (``watch``
does): two at once could both create the task of a freshly stamped key.

``sync`` looks the keys up again: a completed task swaps its item to ``#done-X`` (the key mark
goes with it); failed, cancelled or rejected tasks are reported and their items left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import assert_never

from ulid import ULID

from ats.client import AsyncClient
from ats.models import Status, Task
from ats.tags.claims import Mark, drop_mark, find_mark, retag, set_mark
from ats.tags.delegate import Item, collect, read_text
from ats.tags.edit import replace_all

SOURCE = "ats-delegate"
PREFIX = "delegated-"
PAGE = 500
MAX_FILE_TEXT = 20_000  # of the file, in the description: an executor elsewhere has no checkout


@dataclass(frozen=True, slots=True)
class Published:
    item: Item
    task: Task
    created: bool  # False: the task existed already


@dataclass(slots=True)
class SyncReport:
    done: list[tuple[Item, Task]] = field(default_factory=list)
    open: list[tuple[Item, Task]] = field(default_factory=list)  # pending or in progress
    ended: list[tuple[Item, Task]] = field(default_factory=list)  # failed, cancelled, rejected
    missing: list[Item] = field(default_factory=list)  # keyed, but no task (publish again)


def _key(item: Item) -> str | None:
    mark = item.mark("task")
    return mark.fields.get("key") if mark else None


def _stamp_keys(items: Sequence[Item]) -> None:
    """Give every item without a key one, on its line, under the file lock."""
    for item in items:
        if _key(item) is None:
            replace_all(
                item.path,
                _stamper(item, Mark("task", item.noun, {"key": str(ULID())})),
                within=item.within,
            )


def _stamper(item: Item, mark: Mark) -> Callable[[str], str | None]:
    def keep_or_set(line: str) -> str:
        # Someone stamped it since our scan: theirs wins, one key per item.
        return line if find_mark(line, "task", mark.noun) else set_mark(line, mark)

    def change(text: str) -> str | None:
        return retag(text, item.line, item.tag, item.tag, keep_or_set)

    return change


async def tasks_by_key(client: AsyncClient, channel: str) -> dict[str, Task]:
    """The tasks ``publish`` created on ``channel``, by payload key (oldest wins)."""
    found: dict[str, Task] = {}
    offset = 0
    while True:
        page = await client.list_tasks(
            channel=channel, limit=PAGE, offset=offset, sort_by="created_at", sort_dir="asc"
        )
        for task in page.tasks:
            key = task.payload.get("key")
            if task.payload.get("source") == SOURCE and isinstance(key, str):
                found.setdefault(key, task)
        offset += len(page.tasks)
        if not page.tasks or offset >= page.count:
            return found


async def _create(client: AsyncClient, item: Item, channel: str, key: str) -> Task:
    text = read_text(item.path)
    if len(text) > MAX_FILE_TEXT:
        text = text[:MAX_FILE_TEXT] + "\n…(truncated)"
    return await client.create_task(
        f"{item.noun}: {item.summary}"[:500],
        description=f"Delegated in {item.path}:{item.line} ({item.tag}).\n\n{text}",
        channel=channel,
        payload={
            "source": SOURCE,
            "file": item.path.as_posix(),
            "line": item.line,
            "tag": item.tag,
            "key": key,
        },
    )


async def publish(
    client: AsyncClient,
    paths: Sequence[Path],
    *,
    prefix: str = PREFIX,
    nouns: Collection[str] | None = None,
) -> list[Published]:
    """A task for every ``#delegated-X`` item under ``paths`` that has none yet."""
    found = collect("delegated", paths, nouns)
    # Ask the server first: when it cannot be reached, no file has been touched.
    known = {c: await tasks_by_key(client, c) for c in sorted({prefix + i.noun for i in found})}
    _stamp_keys(found)
    # Re-read: the keys now on disk are the truth (ours, or a concurrent stamper's).
    items = [i for i in collect("delegated", paths, nouns) if _key(i) is not None]
    published: list[Published] = []
    for item in items:
        channel = prefix + item.noun
        if channel not in known:  # delegated since the first scan
            known[channel] = await tasks_by_key(client, channel)
        key = _key(item)
        assert key is not None
        task = known[channel].get(key)
        if task is not None:
            published.append(Published(item, task, False))
            continue
        task = await _create(client, item, channel, key)
        known[channel][key] = task
        published.append(Published(item, task, True))
    return published


def _mark_done(item: Item) -> bool:
    def change(text: str) -> str | None:
        return retag(
            text,
            item.line,
            item.tag,
            f"#done-{item.noun}",
            lambda line: drop_mark(line, "task", item.noun),
        )

    return replace_all(item.path, change, within=item.within)


async def sync(client: AsyncClient, paths: Sequence[Path], *, prefix: str = PREFIX) -> SyncReport:
    """Bring published items up to date with their tasks."""
    report = SyncReport()
    known: dict[str, dict[str, Task]] = {}
    for item in collect("delegated", paths):
        key = _key(item)
        if key is None:
            continue
        channel = prefix + item.noun
        if channel not in known:
            known[channel] = await tasks_by_key(client, channel)
        task = known[channel].get(key)
        if task is None:
            report.missing.append(item)
            continue
        match task.status:
            case Status.COMPLETED:
                if _mark_done(item):
                    report.done.append((item, task))
            case Status.FAILED | Status.CANCELLED | Status.REJECTED:
                report.ended.append((item, task))
            case Status.PENDING | Status.IN_PROGRESS:
                report.open.append((item, task))
            case _:
                assert_never(task.status)
    return report
