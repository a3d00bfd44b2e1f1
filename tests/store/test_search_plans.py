"""A search answers the same whichever plan serves it: the index, or (SQLite, for a word so common
that a page of matches is near) a walk of the requested order testing each row."""

from __future__ import annotations

import pytest

from ats.models import Actor, ActorType, Millis
from ats.store import NewTask, Store, TaskQuery
from ats.store.base import Keyset
from ats.store.sqlite import tasks as sqlite_tasks

ACTOR = Actor(ActorType.AGENT, "writer", "Writer")
T0 = 1_700_000_000_000
COMMON = 1_200  # above the SQLite probe: the walk serves it


async def _fill(store: Store) -> None:
    # The common word in three spellings and in the description too, spread over time, between
    # tasks without it; a few that only look alike.
    for i in range(COMMON + 300):
        if i % 5 == 4:
            spec = NewTask(title=f"other {i}", description="nothing here" if i % 2 else None)
        elif i % 3 == 0:
            spec = NewTask(title=f"ÜBER straße {i}")
        elif i % 3 == 1:
            spec = NewTask(title=f"plain {i}", description=f"über {i}")
        else:
            spec = NewTask(title=f"Über {i}", channel="c2")
        await store.tasks.create_tasks(1, [spec], ACTOR, Millis(T0 + i * 1000 - (i % 7) * 3000))
    await store.tasks.create_tasks(1, [NewTask(title="ube r", description="uber")], ACTOR, T0)


async def _answers(store: Store, q: TaskQuery) -> tuple[list[int], list[int], tuple[int, bool]]:
    """The first page, every id by keyset pages of 97, and the count."""
    first = [t.id for t in await store.tasks.list_tasks(q)]
    walked: list[int] = []
    after: Keyset | None = None
    while True:
        page = await store.tasks.list_tasks(
            TaskQuery(
                search=q.search,
                channel=q.channel,
                sort_by=q.sort_by,
                descending=q.descending,
                limit=97,
                after=after,
            )
        )
        walked += [t.id for t in page]
        if len(page) < 97:
            break
        last = page[-1]
        after = Keyset(getattr(last, q.sort_by), last.id)
    return first, walked, await store.tasks.count_tasks(q)


@pytest.mark.parametrize(
    "q",
    [
        TaskQuery(search="über"),
        TaskQuery(search="ÜBER", sort_by="title", descending=False),
        TaskQuery(search="über", channel="c2"),
        TaskQuery(search="über 1"),
    ],
    ids=["common", "by title", "with a filter", "rarer"],
)
async def test_both_plans_give_the_same_answers(
    store: Store, q: TaskQuery, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _fill(store)
    first, walked, count = await _answers(store, q)
    assert len(walked) == len(set(walked)) == count[0] and not count[1]
    assert first == walked[: len(first)]
    expected = {
        t.id
        for t in await store.tasks.list_tasks(TaskQuery(limit=1000))
        + await store.tasks.list_tasks(TaskQuery(limit=1000, offset=1000))
        if (q.search or "").lower() in f"{t.title}\n{t.description or ''}".lower()
        and (q.channel is None or t.channel == q.channel)
    }
    assert set(walked) == expected
    if store.kind == "sqlite":  # the same answers with the walk ruled out
        monkeypatch.setattr(sqlite_tasks, "PROBE", 10**9)
        assert await _answers(store, q) == (first, walked, count)
