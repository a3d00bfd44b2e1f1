"""``ats list --all-pages`` as a real process against a real server, on both backends."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx


def ats(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ats", *argv], capture_output=True, text=True, timeout=60
    )


def test_all_pages_streams_every_task_once(server_url: str) -> None:
    bodies = [{"title": f"page task {i}", "priority": 1 + i % 10} for i in range(130)]
    created = httpx.post(f"{server_url}/tasks/bulk", json={"tasks": bodies}, timeout=30)
    assert created.status_code == 201, created.text
    ids = [t["id"] for t in created.json()["tasks"]]

    as_json = ats("list", "--all-pages", "-n", "50", "--sort", "priority", "-u", server_url,
                  "-f", "json")  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    tasks = json.loads(as_json.stdout)  # exactly one document: the array of every page
    assert sorted(t["id"] for t in tasks) == sorted(ids)
    keys = [(t["priority"], t["id"]) for t in tasks]
    assert keys == sorted(keys, reverse=True)

    table = ats("list", "--all-pages", "-n", "50", "-u", server_url)
    assert table.returncode == 0, table.stderr
    assert "130 tasks." in table.stdout + table.stderr
    assert all(f"page task {i}" in table.stdout for i in range(130))

    empty = ats("list", "--all-pages", "--channel", "nobody", "-u", server_url, "-f", "json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []

    refused = ats("list", "--all-pages", "--offset", "5", "-u", server_url)
    assert refused.returncode == 2
