"""``ats dispatch deps``: the dependency forest, drawn for people or nested for ``jq``.

Each top-level line is a task, with what it waits for indented below it, recursively::

    ○ #13 Release (waiting on #12)
    └─ ◑ #12 Build docs (in progress by Claude Code)
       ├─ ● #10 Write docs
       └─ ● #11 Lint

Top level: the tasks in the chosen status (default pending) that take part in a dependency,
minus those already drawn below another of them — so a chain is one tree, not one per link. A
task seen twice in one tree is drawn once and then marked ``seen above``. Building the trees is
pure (:class:`Graph`); :func:`load` is the one place that talks to the server.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, assert_never

from ats.client import AsyncClient
from ats.errors import NotFound
from ats.models import Status, Task

SYMBOLS: dict[Status, str] = {
    Status.PENDING: "○",
    Status.IN_PROGRESS: "◑",
    Status.COMPLETED: "●",
    Status.FAILED: "✗",
    Status.REJECTED: "✗",  # the label says "rejected", so it is not mistaken for failed
    Status.CANCELLED: "⊘",
}
MISSING = "?"
MAX_DEPTH = 64  # far beyond any real chain; stops a runaway drawing, not a legitimate one
PAGE = 1000  # the server's largest page

Mark = Literal["seen", "cycle", "deep"]
Direction = Literal["dependencies", "dependents"]


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    task: Task | None  # None: referenced, but no such task (deleted)
    children: tuple[Node, ...] = ()
    waiting_on: tuple[int, ...] = ()  # pending and these dependencies are not completed yet
    mark: Mark | None = None  # why the children were left out


@dataclass(frozen=True, slots=True)
class Focus:
    """One task's view: what it waits for (``node``) and who waits for it (``dependents``)."""

    node: Node
    dependents: tuple[Node, ...]


def parse_status(text: str) -> Status | None:
    """``--status`` value → a status, or None for ``all``; ValueError names the choices."""
    value = text.strip().lower().replace("-", "_")
    if value == "all":
        return None
    try:
        return Status(value)
    except ValueError:
        choices = ", ".join([*(s.value for s in Status), "all"])
        raise ValueError(f"unknown status {text!r} (expected one of {choices})") from None


class Graph:
    def __init__(self, tasks: Iterable[Task]) -> None:
        self.tasks: dict[int, Task] = {t.id: t for t in tasks}
        self.dependents: dict[int, list[int]] = defaultdict(list)
        for task in sorted(self.tasks.values(), key=lambda t: t.id):
            for dep in dict.fromkeys(task.depends_on):
                self.dependents[dep].append(task.id)

    def waiting_on(self, task: Task) -> tuple[int, ...]:
        # Like the server's claim rule: a dependency that no longer exists holds nothing up.
        if task.status is not Status.PENDING:
            return ()
        return tuple(
            d
            for d in dict.fromkeys(task.depends_on)
            if d in self.tasks and self.tasks[d].status is not Status.COMPLETED
        )

    def _next(self, task_id: int, direction: Direction) -> list[int]:
        if direction == "dependents":
            return self.dependents.get(task_id, [])
        task = self.tasks.get(task_id)
        return list(dict.fromkeys(task.depends_on)) if task else []

    def tree(
        self,
        task_id: int,
        direction: Direction = "dependencies",
        *,
        seen: set[int] | None = None,
        path: tuple[int, ...] = (),
    ) -> Node:
        """``task_id`` with its dependencies (or dependents) below it, recursively."""
        seen = set() if seen is None else seen
        task = self.tasks.get(task_id)
        waiting = self.waiting_on(task) if task else ()
        following = self._next(task_id, direction)
        mark: Mark | None = None
        if task_id in path:
            mark = "cycle"  # the server refuses cycles; this guards against a corrupted graph
        elif following and task_id in seen:
            mark = "seen"  # a leaf is cheap to repeat; a subtree is drawn once per tree
        elif following and len(path) >= MAX_DEPTH:
            mark = "deep"
        if mark is not None:
            return Node(task_id, task, (), waiting, mark)
        seen.add(task_id)
        children = tuple(
            self.tree(n, direction, seen=seen, path=(*path, task_id)) for n in following
        )
        return Node(task_id, task, children, waiting)

    def _closure(self, task_id: int) -> set[int]:
        """Every task ``task_id`` depends on, directly or not."""
        found: set[int] = set()
        stack = self._next(task_id, "dependencies")
        while stack:
            dep = stack.pop()
            if dep not in found:
                found.add(dep)
                stack.extend(self._next(dep, "dependencies"))
        return found

    def forest(self, status: Status | None = Status.PENDING) -> list[Node]:
        """The trees of the tasks in ``status`` (None: any) that have dependencies or dependents."""
        candidates = [
            t
            for t in self.tasks.values()
            if (t.depends_on or self.dependents.get(t.id))
            and (status is None or t.status is status)
        ]
        # Newest first: a dependency is always older than its dependents (it must exist when
        # declared), so each task's dependents claim it before it could become a root itself.
        covered: set[int] = set()
        roots: list[int] = []
        for task in sorted(candidates, key=lambda t: t.id, reverse=True):
            if task.id not in covered:
                roots.append(task.id)
                covered |= self._closure(task.id)
        return [self.tree(r) for r in sorted(roots)]

    def focus(self, task_id: int) -> Focus:
        seen: set[int] = set()
        above = tuple(
            self.tree(d, "dependents", seen=seen) for d in self._next(task_id, "dependents")
        )
        return Focus(self.tree(task_id), above)


async def load(client: AsyncClient, *, focus: int | None = None) -> Graph:
    """Every task the client can see, plus referenced dependencies outside the listing."""
    tasks: dict[int, Task] = {}
    if focus is not None:
        # First, so an unknown id fails fast with NotFound rather than after the whole listing.
        first = await client.get_task(focus)
        tasks[first.id] = first
    offset = 0
    while True:
        # Oldest first: tasks created while paging land after the pages already read.
        page = await client.list_tasks(
            sort_by="created_at", sort_dir="asc", limit=PAGE, offset=offset
        )
        tasks.update((t.id, t) for t in page.tasks)
        offset += len(page.tasks)
        if len(page.tasks) < PAGE or offset >= page.count:
            break
    for ref in sorted({d for t in tasks.values() for d in t.depends_on} - tasks.keys()):
        with contextlib.suppress(NotFound):  # deleted: drawn as "not found"
            tasks[ref] = await client.get_task(ref)
    return Graph(tasks.values())


# -- drawing ---------------------------------------------------------------------------------


def _one_line(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _notes(node: Node, task: Task) -> list[str]:
    notes: list[str] = []
    match task.status:
        case Status.PENDING:
            if node.waiting_on:
                notes.append("waiting on " + ", ".join(f"#{d}" for d in node.waiting_on))
            elif task.depends_on:
                notes.append("ready")
        case Status.IN_PROGRESS:
            by = (task.assignee.name or task.assignee.id) if task.assignee else ""
            notes.append(f"in progress by {by}" if by else "in progress")
        case Status.FAILED | Status.REJECTED:
            word = task.status.value
            notes.append(f"{word}: {_one_line(task.reason)}" if task.reason else word)
        case Status.CANCELLED:
            notes.append("cancelled")
        case Status.COMPLETED:
            pass
        case _:
            assert_never(task.status)
    if node.mark == "seen":
        notes.append("seen above")
    elif node.mark == "cycle":
        notes.append("cycle")
    elif node.mark == "deep":
        notes.append("too deep, not drawn")
    return notes


def label(node: Node) -> str:
    """``○ #12 Build docs (waiting on #10, #11)``."""
    task = node.task
    if task is None:
        return f"{MISSING} #{node.id} (not found)"
    notes = _notes(node, task)
    text = f"{SYMBOLS[task.status]} #{task.id} {_one_line(task.title)}"
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _draw(children: Sequence[Node], prefix: str, lines: list[str]) -> None:
    for i, child in enumerate(children):
        last = i == len(children) - 1
        lines.append(prefix + ("└─ " if last else "├─ ") + label(child))
        _draw(child.children, prefix + ("   " if last else "│  "), lines)


def render(nodes: Sequence[Node]) -> list[str]:
    lines: list[str] = []
    for node in nodes:
        lines.append(label(node))
        _draw(node.children, "", lines)
    return lines


def render_focus(focus: Focus) -> list[str]:
    lines = render([focus.node])
    if focus.dependents:
        lines.append("needed by:")
        _draw(focus.dependents, "", lines)
    return lines


# -- JSON ------------------------------------------------------------------------------------


def node_json(node: Node, key: Direction = "dependencies") -> dict[str, Any]:
    """``{"id","title","status","reason","waiting_on", key: [...]}``, nested the same way."""
    task = node.task
    d: dict[str, Any] = {
        "id": node.id,
        "title": task.title if task else None,
        "status": task.status.value if task else None,
        "reason": task.reason if task else None,
        "waiting_on": list(node.waiting_on),
        key: [node_json(c, key) for c in node.children],
    }
    if task is None:
        d["missing"] = True
    if node.mark is not None:
        d["elided"] = node.mark  # children left out: "seen" above, a "cycle", or too "deep"
    return d


def forest_json(nodes: Sequence[Node]) -> list[dict[str, Any]]:
    return [node_json(n) for n in nodes]


def focus_json(focus: Focus) -> dict[str, Any]:
    return {
        "task": node_json(focus.node),
        "dependents": [node_json(d, "dependents") for d in focus.dependents],
    }
