"""The fast paths give the general path's answers (HOUSE_STYLE: one path defines behaviour).

``complete``, ``fail`` and batch complete may skip the general read → ``lifecycle.apply`` → write
sequence (``store/postgres/fast.py``, ``store/sqlite/fast.py``). Here every case of the table below
runs on two identical fresh tasks ("twins"): one through the store's verb, which takes whatever
fast path it likes, the other through ``transition_general``, which never does. The answers must
be the same: the returned task or error, the task as stored, and every event of the task and of
the task that depends on it (a failure cascades to it). Twins are built at the same instants, so
even timestamps must agree; only ids differ, and they are replaced by role names.

Batch complete is also checked with the whole table in one call (many rows in one write, every
task named twice), and with items that reach across tasks (a failure, then its dependent).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ats.errors import AtsError
from ats.lifecycle import Action, Cancel, Claim, Complete, Fail, Reject
from ats.models import ANONYMOUS, Actor, ActorType, Millis, Status, Task, now_ms
from ats.store import EventQuery, NewTask, Store
from ats.store.postgres.store import PostgresStore
from ats.store.sqlite.store import SqliteStore

PROJECT = 1  # the default project, which the caller is scoped to
T0 = Millis(1_767_225_600_000)  # every twin is built at the same instants...
ACTED = Millis(T0 + 100)  # ...and acted on at the same instant
LEASE_MS = 60_000  # still running at ACTED
OUTPUTS = {"answer": 42}  # not an array: complete wraps it, on every path
CREATOR = Actor(ActorType.HUMAN, "creator", "Creator")
HOLDER = Actor(ActorType.AGENT, "holder", "Holder")
OTHER = Actor(ActorType.AGENT, "other", "Other")


# --- the case table -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """A starting state: the steps the holder takes (by the general path) after creating it."""

    name: str
    status: Status
    steps: tuple[Action, ...] = ()
    waiting: bool = False  # depends on a task that is still pending


STARTS = (
    Start("pending", Status.PENDING),
    Start("waiting", Status.PENDING, waiting=True),
    Start("in_progress", Status.IN_PROGRESS, (Claim(LEASE_MS),)),
    Start("completed", Status.COMPLETED, (Claim(LEASE_MS), Complete(["done"]))),
    Start("cancelled", Status.CANCELLED, (Claim(LEASE_MS), Cancel("dropped"))),
    Start("failed", Status.FAILED, (Claim(LEASE_MS), Fail("broke"))),
    Start("rejected", Status.REJECTED, (Claim(LEASE_MS), Reject("not mine"))),
)
ACTORS = {"holder": HOLDER, "other": OTHER, "anonymous": ANONYMOUS}
TOKENS = ("current", "stale", "absent")
ACTIONS = ("complete", "fail", "complete_many")

CASES = list(itertools.product(STARTS, ACTORS, TOKENS, ACTIONS))


def test_the_case_table_is_exhaustive() -> None:
    assert {start.status for start in STARTS} == set(Status)
    assert len(CASES) == 7 * 3 * 3 * 3 == 189


def lease_token(kind: str, task: Task) -> int | None:
    if kind == "current":
        return task.lease_token
    if kind == "stale":
        # the token before the current one; a task never claimed has none, so one from after it
        return task.lease_token - 1 if task.lease_token > 0 else task.lease_token + 1
    assert kind == "absent"
    return None


def action(name: str, token: int | None) -> Action:
    if name == "fail":
        return Fail("gave up", token)
    return Complete(OUTPUTS, token)


# --- twins ----------------------------------------------------------------------------------------

Answer = Task | AtsError
Verb = Callable[[int, int | None, Action, Actor, Millis], Awaitable[Task]]


def general(store: Store) -> Verb:
    """The store's general path: read under the row lock → lifecycle.apply → write."""
    assert isinstance(store, PostgresStore | SqliteStore)
    return store.tasks.transition_general


async def caught(call: Awaitable[Task]) -> Answer:
    try:
        return await call
    except AtsError as exc:
        return exc


@dataclass(frozen=True, slots=True)
class Twin:
    task: Task
    child: int  # a pending task that depends on this one
    roles: dict[int, str]


async def twin(store: Store, start: Start, blocker: int) -> Twin:
    spec = NewTask(
        title=f"subject {start.name}",
        payload={"z": 1, "a": [1, 2]},
        depends_on=(blocker,) if start.waiting else (),
        max_attempts=3,
    )
    [task] = await store.tasks.create_tasks(PROJECT, [spec], CREATOR, T0)
    [child] = await store.tasks.create_tasks(
        PROJECT, [NewTask(title="child", depends_on=(task.id,))], CREATOR, T0
    )
    for n, step in enumerate(start.steps, 1):
        task = await general(store)(task.id, PROJECT, step, HOLDER, Millis(T0 + n))
    assert task.status is start.status
    return Twin(task, child.id, {task.id: "subject", child.id: "child", blocker: "blocker"})


async def twins(store: Store, start: Start, blocker: int) -> tuple[Twin, Twin]:
    return await twin(store, start, blocker), await twin(store, start, blocker)


async def blocker(store: Store) -> int:
    [task] = await store.tasks.create_tasks(PROJECT, [NewTask(title="blocker")], CREATOR, T0)
    return task.id


# --- what is compared -----------------------------------------------------------------------------

_ID_IN_TEXT = re.compile(r"(?<=#)\d+|(?<=[Tt]ask )\d+")


def scrub_text(text: str, roles: dict[int, str]) -> str:
    return _ID_IN_TEXT.sub(lambda m: roles.get(int(m.group()), m.group()), text)


def task_view(task: dict[str, Any], roles: dict[int, str]) -> dict[str, Any]:
    return {
        **task,
        "id": roles[task["id"]],
        "depends_on": [roles.get(i, i) for i in task["depends_on"]],
        "reason": task["reason"] and scrub_text(task["reason"], roles),
    }


def answer_view(answer: Answer, roles: dict[int, str]) -> object:
    if isinstance(answer, Task):
        return task_view(answer.to_json(), roles)
    body = answer.to_json()
    if "task_id" in body:
        body["task_id"] = roles[body["task_id"]]
    body["error"] = scrub_text(body["error"], roles)
    return type(answer).__name__, body


async def observed(store: Store, twin: Twin, answer: Answer) -> dict[str, Any]:
    """The answer, the task as stored, and the events of the task and its dependent."""
    stored = await store.tasks.get_task(twin.task.id, PROJECT, with_messages=True)
    events = []
    for task_id in (twin.task.id, twin.child):
        for event in await store.events.read(EventQuery(task_id=task_id, limit=1000), now_ms()):
            e = event.to_json()
            del e["id"]  # the log's own counter
            e["task_id"] = twin.roles[e["task_id"]]
            e["data"]["task"] = task_view(e["data"]["task"], twin.roles)
            events.append(e)
    return {
        "answer": answer_view(answer, twin.roles),
        "stored": task_view(stored.to_json(), twin.roles),
        "events": events,
    }


def differences(fast: object, slow: object, path: str = "") -> list[str]:
    """Where two observations differ, as ``path: fast != general`` lines."""
    if isinstance(fast, dict) and isinstance(slow, dict):
        return [line for key in {**fast, **slow}
                for line in differences(fast.get(key), slow.get(key), f"{path}.{key}")]  # fmt: skip
    if isinstance(fast, list | tuple) and isinstance(slow, list | tuple) and len(fast) == len(slow):
        return [line for i, (f, s) in enumerate(zip(fast, slow, strict=True))
                for line in differences(f, s, f"{path}[{i}]")]  # fmt: skip
    return [] if fast == slow else [f"{path}: fast {fast!r} != general {slow!r}"]


def disagreements(found: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> str:
    lines = [f"{len(found)} case(s) where the fast path disagrees with the general path:"]
    for case, fast, slow in found:
        lines.append(f"* {case}")
        lines.extend(f"    {line}" for line in differences(fast, slow)[:6])
    return "\n".join(lines)


# --- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ACTIONS)
async def test_fast_paths_agree_with_the_general_path(store: Store, verb: str) -> None:
    waited_on = await blocker(store)
    found, kinds = [], set()
    for start, actor_name, token_kind, _ in (c for c in CASES if c[3] == verb):
        actor = ACTORS[actor_name]
        fast, slow = await twins(store, start, waited_on)
        fast_action = action(verb, lease_token(token_kind, fast.task))
        slow_action = action(verb, lease_token(token_kind, slow.task))
        if verb == "complete_many":
            [fast_answer] = await store.tasks.transition_many(
                PROJECT, [(fast.task.id, fast_action)], actor, ACTED
            )
        else:
            fast_answer = await caught(
                store.tasks.transition(fast.task.id, PROJECT, fast_action, actor, ACTED)
            )
        slow_answer = await caught(general(store)(slow.task.id, PROJECT, slow_action, actor, ACTED))
        kinds.add(type(slow_answer).__name__)
        seen_fast = await observed(store, fast, fast_answer)
        seen_slow = await observed(store, slow, slow_answer)
        if seen_fast != seen_slow:
            found.append((f"{start.name}/{actor_name}/{token_kind} token/{verb}",
                           seen_fast, seen_slow))  # fmt: skip
    assert not found, disagreements(found)
    assert kinds == {"Task", "Conflict"}  # the table reaches both answers


@pytest.mark.parametrize("actor_name", list(ACTORS))
async def test_one_batch_of_every_case_agrees_with_the_general_path(
    store: Store, actor_name: str
) -> None:
    """Batch complete of many rows at once, every task named twice (the repeats run one by one)."""
    actor = ACTORS[actor_name]
    waited_on = await blocker(store)
    pairs: list[tuple[str, Twin, Twin, str]] = []
    for start, token_kind in itertools.product(STARTS, TOKENS):
        fast, slow = await twins(store, start, waited_on)
        pairs.append((f"{start.name}/{actor_name}/{token_kind} token", fast, slow, token_kind))

    def items(pick: Callable[[tuple[str, Twin, Twin, str]], Twin]) -> list[tuple[int, Action]]:
        once = [
            (pick(p).task.id, action("complete", lease_token(p[3], pick(p).task))) for p in pairs
        ]
        return once + once

    fast_answers = await store.tasks.transition_many(PROJECT, items(lambda p: p[1]), actor, ACTED)
    slow_answers = [
        await caught(general(store)(task_id, PROJECT, a, actor, ACTED))
        for task_id, a in items(lambda p: p[2])
    ]
    found = []
    for n, (case, fast, slow, _) in enumerate(pairs):
        for rank, i in (("first", n), ("repeat", n + len(pairs))):
            seen_fast = await observed(store, fast, fast_answers[i])
            seen_slow = await observed(store, slow, slow_answers[i])
            if seen_fast != seen_slow:
                found.append((f"{case} ({rank} in the batch)", seen_fast, seen_slow))
    assert not found, disagreements(found)


async def test_a_batch_whose_items_interact_agrees_with_running_them_in_order(
    store: Store,
) -> None:
    """Failing a dependency fails its pending dependent, so completing that dependent later in
    the same batch is refused — as when the items run one after another."""
    waited_on = await blocker(store)
    answers, seen = [], []
    for verb in (store.tasks.transition_many, None):
        dependency = await twin(store, STARTS[2], waited_on)  # in_progress, held by HOLDER
        [dependent] = await store.tasks.create_tasks(
            PROJECT, [NewTask(title="dependent", depends_on=(dependency.task.id,))], CREATOR, T0
        )
        roles = {**dependency.roles, dependent.id: "dependent"}
        items: list[tuple[int, Action]] = [
            (dependency.task.id, Fail("broke")),
            (dependent.id, Complete(OUTPUTS)),
        ]
        if verb is not None:
            got = await verb(PROJECT, items, HOLDER, ACTED)
        else:
            got = [await caught(general(store)(i, PROJECT, a, HOLDER, ACTED)) for i, a in items]
        answers.append([answer_view(a, roles) for a in got])
        both = Twin(dependent, dependency.task.id, roles)  # observed: the events of the two
        seen.append(await observed(store, both, got[1]))
    assert answers[0] == answers[1]
    assert not differences(seen[0], seen[1])
