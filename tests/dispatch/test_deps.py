"""``ats dispatch deps`` against a real ``ats serve`` on SQLite and PostgreSQL.

The tasks (a diamond, a chain that fails, a rejected dependency) are made with the SDK; the tree
is read with the real CLI entry point, in-process, as a person and as ``-f json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ats.cli import main as cli_main
from ats.client import Client
from ats.dispatch.deps import Graph, render
from ats.models import Actor, ActorType

from .samples import make_task

SETUP = Actor(ActorType.AGENT, "setup", "Setup")
WORKER = Actor(ActorType.AGENT, "worker", "Worker")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


Ats = Callable[..., Result]


@pytest.fixture
def ats(capsys: pytest.CaptureFixture[str]) -> Ats:
    """The real entry point (error → exit code mapping included), in-process."""

    def run(*argv: str) -> Result:
        code = cli_main.main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@dataclass(frozen=True)
class Ids:
    docs: int
    lint: int
    build: int
    release: int
    announce: int
    publish: int
    fetch: int
    analyse: int
    report: int
    optional: int
    extra: int


def make_tasks(url: str) -> Ids:
    """A diamond under ``publish``, a chain whose root fails, a rejected dependency."""
    with Client(url, SETUP) as c:

        def new(title: str, *deps: int) -> int:
            return int(c.create_task(title, depends_on=list(deps) or None).id)

        docs, lint = new("Write docs"), new("Lint")
        build = new("Build docs", docs, lint)
        release, announce = new("Release", build), new("Announce", build)
        publish = new("Publish", release, announce)
        fetch = new("Fetch data")
        analyse = new("Analyse", fetch)
        report = new("Report", analyse)
        optional = new("Optional step")
        extra = new("Extra", optional)
        new("Standalone")  # no dependency either way: never drawn
        c.complete(docs, ["ok"])
        c.fail(fetch, "boom")  # the server fails analyse, then report: "Blocked: …"
        c.reject(optional, "not needed")  # rejected does not cascade: extra keeps waiting
    with Client(url, WORKER) as w:
        w.claim(lint)
    return Ids(docs, lint, build, release, announce, publish, fetch, analyse, report, optional,
               extra)  # fmt: skip


def test_pending_tree_shows_what_waits_on_what(server_url: str, ats: Ats) -> None:
    i = make_tasks(server_url)
    result = ats("dispatch", "deps", "-u", server_url)
    assert result.code == 0, result.err
    assert result.lines == [
        f"○ #{i.publish} Publish (waiting on #{i.release}, #{i.announce})",
        f"├─ ○ #{i.release} Release (waiting on #{i.build})",
        f"│  └─ ○ #{i.build} Build docs (waiting on #{i.lint})",
        f"│     ├─ ● #{i.docs} Write docs",
        f"│     └─ ◑ #{i.lint} Lint (in progress by Worker)",
        f"└─ ○ #{i.announce} Announce (waiting on #{i.build})",
        f"   └─ ○ #{i.build} Build docs (waiting on #{i.lint}; seen above)",
        f"○ #{i.extra} Extra (waiting on #{i.optional})",
        f"└─ ✗ #{i.optional} Optional step (rejected: not needed)",
    ]


def test_all_and_failed_show_the_blocked_chain(server_url: str, ats: Ats) -> None:
    i = make_tasks(server_url)
    chain = [
        f"✗ #{i.report} Report (failed: Blocked: dependency #{i.analyse} (failed))",
        f"└─ ✗ #{i.analyse} Analyse (failed: Blocked: dependency #{i.fetch} (failed))",
        f"   └─ ✗ #{i.fetch} Fetch data (failed: boom)",
    ]
    failed = ats("dispatch", "deps", "--status", "failed", "-u", server_url)
    assert failed.code == 0, failed.err
    assert failed.lines == chain
    everything = ats("dispatch", "deps", "--status", "all", "-u", server_url)
    assert everything.code == 0, everything.err
    tops = [line for line in everything.lines if line[0] in "○◑●✗⊘"]
    assert tops == [
        f"○ #{i.publish} Publish (waiting on #{i.release}, #{i.announce})",
        chain[0],
        f"○ #{i.extra} Extra (waiting on #{i.optional})",
    ]
    assert "Standalone" not in everything.out
    # a status with nothing in it says so on stderr, and stdout stays empty
    none = ats("dispatch", "deps", "--status", "cancelled", "-u", server_url)
    assert (none.code, none.out) == (0, "")
    assert "No tasks" in none.err


def test_json_is_one_nested_document(server_url: str, ats: Ats) -> None:
    i = make_tasks(server_url)
    result = ats("dispatch", "deps", "-u", server_url, "-f", "json")
    assert result.code == 0, result.err
    forest: list[dict[str, Any]] = json.loads(result.out)
    assert [n["id"] for n in forest] == [i.publish, i.extra]
    publish = forest[0]
    assert publish["status"] == "pending"
    assert publish["waiting_on"] == [i.release, i.announce]
    release, announce = publish["dependencies"]
    build = release["dependencies"][0]
    assert build["id"] == i.build and build["waiting_on"] == [i.lint]
    assert [(d["id"], d["status"]) for d in build["dependencies"]] == [
        (i.docs, "completed"),
        (i.lint, "in_progress"),
    ]
    again = announce["dependencies"][0]
    assert again["id"] == i.build and again["elided"] == "seen" and again["dependencies"] == []
    optional = forest[1]["dependencies"][0]
    assert optional["status"] == "rejected" and optional["reason"] == "not needed"


def test_one_task_with_its_dependencies_and_dependents(server_url: str, ats: Ats) -> None:
    i = make_tasks(server_url)
    result = ats("dispatch", "deps", "--task", str(i.build), "-u", server_url)
    assert result.code == 0, result.err
    assert result.lines == [
        f"○ #{i.build} Build docs (waiting on #{i.lint})",
        f"├─ ● #{i.docs} Write docs",
        f"└─ ◑ #{i.lint} Lint (in progress by Worker)",
        "needed by:",
        f"├─ ○ #{i.release} Release (waiting on #{i.build})",
        f"│  └─ ○ #{i.publish} Publish (waiting on #{i.release}, #{i.announce})",
        f"└─ ○ #{i.announce} Announce (waiting on #{i.build})",
        f"   └─ ○ #{i.publish} Publish (waiting on #{i.release}, #{i.announce})",
    ]
    as_json = ats("dispatch", "deps", "--task", str(i.fetch), "-u", server_url, "-f", "json")
    assert as_json.code == 0, as_json.err
    doc = json.loads(as_json.out)
    assert doc["task"]["id"] == i.fetch and doc["task"]["dependencies"] == []
    [analyse] = doc["dependents"]
    assert analyse["id"] == i.analyse
    assert analyse["reason"] == f"Blocked: dependency #{i.fetch} (failed)"
    assert [d["id"] for d in analyse["dependents"]] == [i.report]


def test_unknown_task_and_status(server_url: str, ats: Ats) -> None:
    missing = ats("dispatch", "deps", "--task", "999999", "-u", server_url)
    assert missing.code == 3
    assert missing.err.startswith("Error:")
    bad = ats("dispatch", "deps", "--status", "waiting", "-u", server_url)
    assert bad.code == 2
    assert "unknown status 'waiting'" in bad.err


def test_cycles_and_deleted_dependencies_are_drawn_not_followed() -> None:
    # The server refuses both; the drawing must still terminate on a graph that has them.
    graph = Graph(
        [
            make_task(1, title="a", status="pending", depends_on=[2]),
            make_task(2, title="b", status="pending", depends_on=[1]),
            make_task(3, title="c", status="pending", depends_on=[99]),
        ]
    )
    assert render(graph.forest()) == [
        "○ #2 b (waiting on #1)",
        "└─ ○ #1 a (waiting on #2)",
        "   └─ ○ #2 b (waiting on #1; cycle)",
        "○ #3 c (ready)",
        "└─ ? #99 (not found)",
    ]
