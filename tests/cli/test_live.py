"""The CLI against a real ``ats serve`` (the ``server_url`` fixture, on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import Ats

pytestmark = pytest.mark.anyio


def ats_process(url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The installed entry point, as a script or a daemon would run it."""
    return subprocess.run(
        [sys.executable, "-m", "ats", *argv, "-u", url],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )


def test_claim_race_has_exactly_one_winner(server_url: str, ats: Ats) -> None:
    task = ats("create", "contested", "-u", server_url, "-f", "json").json()
    workers = [f"worker-{n}" for n in range(8)]
    with ThreadPoolExecutor(len(workers)) as pool:
        results = list(
            pool.map(
                lambda w: ats_process(server_url, "claim", str(task["id"]), "--actor-id", w),
                workers,
            )
        )
    codes = sorted(r.returncode for r in results)
    assert codes == [0] + [4] * (len(workers) - 1), [r.stderr for r in results]
    for loser in (r for r in results if r.returncode == 4):
        assert loser.stderr.startswith("Error: ") and "already claimed" in loser.stderr
        assert loser.stdout == ""


def test_a_task_from_creation_to_completion(server_url: str, ats: Ats) -> None:
    def run(*argv: str) -> object:
        result = ats(*argv, "-u", server_url, "-f", "json")
        assert result.code == 0, result.err
        return result.json()

    first = run("create", "build", "--priority", "8", "--channel", "ci")
    assert isinstance(first, dict)
    second = run("create", "deploy", "--depends-on", str(first["id"]), "--max-attempts", "2")
    assert isinstance(second, dict) and second["depends_on"] == [first["id"]]

    waiting = ats("claim", str(second["id"]), "-u", server_url)
    assert waiting.code == 4 and "waiting on dependencies" in waiting.err

    claimed = run("claim", str(first["id"]), "--actor-id", "builder", "--lease", "30000")
    assert isinstance(claimed, dict) and claimed["assignee_id"] == "builder"
    stolen = ats("complete", str(first["id"]), "--actor-id", "thief", "-u", server_url)
    assert stolen.code == 4

    run("message", "add", str(first["id"]), "half way", "--actor-id", "builder")
    messages = run("message", "list", str(first["id"]))
    assert isinstance(messages, list) and messages[0]["parts"][0]["content"] == "half way"

    done = run("complete", str(first["id"]), "--outputs", '{"artifact": "x.whl"}',
               "--actor-id", "builder")  # fmt: skip
    assert isinstance(done, dict) and done["status"] == "completed"
    assert done["outputs"] == [{"artifact": "x.whl"}]  # the server wraps a non-array

    pending = run("list")
    assert isinstance(pending, list) and [t["title"] for t in pending] == ["deploy"]
    urgent = run("list", "--all", "--priority", "8+")
    assert isinstance(urgent, list) and [t["title"] for t in urgent] == ["build"]
    in_ci = run("list", "--all", "--channel", "ci", "--since", "1h")
    assert isinstance(in_ci, list) and len(in_ci) == 1

    stats = run("stats")
    assert isinstance(stats, dict) and stats["total"] == 2

    missing = ats("get", "999999", "-u", server_url)
    assert missing.code == 3 and missing.err.startswith("Error: ")


def test_list_json_pipes_cleanly_from_the_real_command(server_url: str, ats: Ats) -> None:
    for title in ("one", "two"):
        assert ats("create", title, "-u", server_url).code == 0
    result = ats_process(server_url, "list", "-f", "json", "--sort", "title", "-r")
    assert result.returncode == 0, result.stderr
    assert [t["title"] for t in json.loads(result.stdout)] == ["one", "two"]
    assert result.stderr == ""


def test_projects_scope_what_the_cli_sees(server_url: str, ats: Ats, isolated: Path) -> None:
    assert ats("create", "in default", "-u", server_url).code == 0
    created = ats("project", "create", "acme/web", "--name", "Web", "-u", server_url)
    assert created.code == 0, created.err
    assert ats("project", "switch", "acme/web").code == 0
    assert (isolated / ".ats" / "config").is_file()
    assert ats("create", "in acme", "-u", server_url).code == 0

    scoped = ats("list", "-u", server_url, "-f", "json").json()
    assert [t["title"] for t in scoped] == ["in acme"]
    listed = ats("project", "list", "acme", "-u", server_url, "-f", "json").json()
    assert [(p["slug"], p["pending_count"]) for p in listed] == [("web", 1)]

    (isolated / ".ats" / "config").unlink()  # back to unscoped: list spans every project
    everything = ats("list", "-u", server_url, "-f", "json").json()
    assert sorted(t["title"] for t in everything) == ["in acme", "in default"]


def test_health(server_url: str, ats: Ats) -> None:
    result = ats("health", "-u", server_url, "-f", "json")
    assert result.code == 0 and result.json()["status"] == "ok"


def test_watch_since_beyond_the_log_is_a_refusal_not_an_outage(server_url: str) -> None:
    """The server refuses the subscription (close 1008): one clear line and exit 1, not the
    "cannot reach the server" exit 5 — retrying would not help."""
    done = ats_process(server_url, "watch", "--since", "999999")
    assert done.returncode == 1, done.stderr
    assert "refused the subscription" in done.stderr and "beyond the newest event" in done.stderr
