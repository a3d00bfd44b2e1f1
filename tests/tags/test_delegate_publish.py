"""``ats delegate publish`` / ``sync``: files become tasks on a real server, and come back done."""

from __future__ import annotations

import re
from pathlib import Path

from ats.client import Client
from ats.models import Actor, ActorType, Status, Task

from .conftest import Ats
from .delegate_fixtures import delegate, one_error_line, snapshot, write

WORKER = Actor(ActorType.AGENT, "worker", "Worker")
KEY = re.compile(r"<!-- ats:task-([a-z-]+) key=([0-9A-Z]{26}) -->")


def tasks(url: str, channel: str) -> list[Task]:
    with Client(url, WORKER) as c:
        return c.list_tasks(channel=channel, limit=100).tasks


def test_publish_is_idempotent_and_sync_brings_completion_back(server_url: str, tree: Path) -> None:
    env = {"ATS_URL": server_url}
    fix_a = write(tree / "sessions/a.md", "# Parser\n**Tags**: #delegated-fix\n\nIt crashes.\n")
    fix_b = write(tree / "sessions/b.md", "# Lexer\n**Tags**: #delegated-fix\n\nIt is slow.\n")
    research = write(tree / "sessions/REQUEST-r.md", "# R\n**Tags**: #delegated-research\n")
    write(tree / "sessions/other.md", "# Other\n**Tags**: #needs-fix\n")

    first = delegate(tree, "publish", env=env)
    assert first.code == 0, first.err
    assert "published 3 new task(s), 0 already published" in first.out
    fix_tasks = tasks(server_url, "delegated-fix")
    assert len(fix_tasks) == 2 and len(tasks(server_url, "delegated-research")) == 1
    by_file = {t.payload["file"]: t for t in fix_tasks}
    task_a = by_file["sessions/a.md"]
    key_a = KEY.search(fix_a.read_text())
    assert key_a is not None and key_a[1] == "fix"
    assert task_a.payload == {
        "source": "ats-delegate",
        "file": "sessions/a.md",
        "line": 2,
        "tag": "#delegated-fix",
        "key": key_a[2],
    }
    assert task_a.title == "fix: Parser — It crashes."
    assert "It crashes." in (task_a.description or "")

    again = delegate(tree, "publish", env=env)
    assert again.code == 0, again.err
    assert "published 0 new task(s), 3 already published" in again.out
    assert len(tasks(server_url, "delegated-fix")) == 2
    assert len(tasks(server_url, "delegated-research")) == 1

    task_b = by_file["sessions/b.md"]
    with Client(server_url, WORKER) as c:
        c.claim(task_a.id)
        c.complete(task_a.id, ["fixed"])
        c.claim(task_b.id)
        c.fail(task_b.id, "cannot reproduce")

    synced = delegate(tree, "sync", env=env)
    assert synced.code == 0, synced.err
    assert f"done  sessions/a.md:2  #delegated-fix → #done-fix (task #{task_a.id})" in synced.out
    assert (
        f"task #{task_b.id} failed: cannot reproduce  sessions/b.md:2 left as #delegated-fix"
        in (synced.out)
    )
    assert "done 1, open 1, failed/cancelled/rejected 1, missing 0" in synced.out
    assert fix_a.read_text() == "# Parser\n**Tags**: #done-fix\n\nIt crashes.\n"
    assert "#delegated-fix <!-- ats:task-fix key=" in fix_b.read_text()
    assert "#delegated-research <!-- ats:task-research key=" in research.read_text()

    before = snapshot(tree)
    assert delegate(tree, "sync", env=env).code == 0
    assert snapshot(tree) == before
    assert "3 already published" not in delegate(tree, "publish", env=env).out  # a is done now


def test_a_key_without_a_task_is_published_by_the_next_run(server_url: str, tree: Path) -> None:
    # What a crash between stamping the key and creating the task leaves behind.
    key = "01KAQ0000000000000000000AB"
    path = write(
        tree / "sessions/a.md", f"# A\n**Tags**: #delegated-loop <!-- ats:task-loop key={key} -->\n"
    )
    before = path.read_bytes()
    done = delegate(tree, "publish", "--channel-prefix", "files-", env={"ATS_URL": server_url})
    assert done.code == 0, done.err
    (task,) = tasks(server_url, "files-loop")
    assert task.payload["key"] == key and task.status is Status.PENDING
    assert path.read_bytes() == before  # the key it had is the key it keeps


def test_publish_without_a_server_and_with_bad_paths(tree: Path) -> None:
    write(tree / "sessions/a.md", "# A\n**Tags**: #delegated-fix\n")
    done = delegate(tree, "publish", "nowhere", env={"ATS_URL": "http://127.0.0.1:9"})
    assert done.code == 2
    assert one_error_line(done.err) == "ats delegate: nowhere: no such file or directory"
    before = snapshot(tree)
    down = delegate(tree, "publish", env={"ATS_URL": "http://127.0.0.1:9"})
    assert down.code == 5  # cannot reach the server
    assert one_error_line(down.err).startswith("Error: cannot reach the ATS server")
    assert snapshot(tree) == before  # not even a key stamped


def test_json_output(server_url: str, tree: Path, ats: Ats) -> None:
    write(tree / "sessions/a.md", "# A\n**Tags**: #delegated-fix\n")
    published = ats("delegate", "publish", "-u", server_url, "-f", "json")
    assert published.code == 0, published.err
    (row,) = published.json()
    assert row["file"] == "sessions/a.md" and row["channel"] == "delegated-fix"
    assert row["created"] is True and row["tag"] == "#delegated-fix"
    with Client(server_url, WORKER) as c:
        c.claim(row["task"])
        c.complete(row["task"])
    synced = ats("delegate", "sync", "-f", "json", "-u", server_url)
    assert synced.code == 0, synced.err
    assert synced.json() == {
        "done": [
            {"file": "sessions/a.md", "line": 2, "tag": "#delegated-fix", "task": row["task"],
             "status": "completed"}
        ],
        "open": [],
        "ended": [],
        "missing": [],
    }  # fmt: skip
