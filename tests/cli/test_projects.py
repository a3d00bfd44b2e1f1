"""The current project: init, switch, current, and the server-side project commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Ats

try:
    from client.fake import FakeServer, task_json
except ImportError:  # pragma: no cover
    from tests.client.fake import FakeServer, task_json


def config(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_init_creates_local_config_with_defaults(ats: Ats, isolated: Path) -> None:
    result = ats("project", "init")
    assert result.code == 0, result.err
    assert config(isolated / ".ats/config") == {
        "url": "http://127.0.0.1:8765",
        "organization": "default",
        "project": "main",
    }
    again = ats("project", "init")
    assert again.code == 4 and "already exists" in again.err
    assert ats("project", "init", "--force", "--project", "other").code == 0
    assert config(isolated / ".ats/config")["project"] == "other"


def test_switch_creates_local_config_and_current_reads_it(ats: Ats, isolated: Path) -> None:
    assert ats("project", "current").out == "default/main\n"
    result = ats("project", "switch", "acme/web")
    assert result.code == 0, result.err
    assert config(isolated / ".ats/config") == {"organization": "acme", "project": "web"}
    assert ats("project", "current").out == "acme/web\n"
    current = ats("project", "current", "-f", "json").json()
    assert current["organization"] == "acme" and current["scoped"] is True


def test_switch_rewrites_the_nearest_config_keeping_other_keys(
    ats: Ats, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = isolated / ".ats/config"
    path.parent.mkdir()
    path.write_text(json.dumps({"url": "http://h:1", "organization": "acme", "project": "a"}))
    sub = isolated / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert ats("project", "switch", "--project", "b").code == 0  # org kept
    assert config(path) == {"url": "http://h:1", "organization": "acme", "project": "b"}
    assert not (sub / ".ats").exists()
    assert ats("project", "switch", "--org", "other", "--project", "c").code == 0
    assert config(path)["organization"] == "other"


def test_switch_without_a_target_is_usage(ats: Ats) -> None:
    assert ats("project", "switch").code == 2


def test_switched_project_scopes_task_routes(ats: Ats, fake: FakeServer) -> None:
    ats("project", "switch", "acme/web")
    fake.on("GET", "/orgs/acme/projects/web/tasks", 200, {"tasks": [task_json(1)], "count": 1})
    result = ats("list", "-f", "json")
    assert result.code == 0, result.err
    assert [t["id"] for t in result.json()] == [1]


def test_list_create_show_rename(ats: Ats, fake: FakeServer, isolated: Path) -> None:
    project = {"slug": "web", "name": "Web", "pending_count": 2, "in_progress_count": 1,
               "total_count": 5}  # fmt: skip
    fake.on("GET", "/orgs/acme/projects", 200, {"projects": [project]})
    listed = ats("project", "list", "acme", "-f", "json")
    assert listed.json() == [project]
    assert fake.last.url.params["counts"] == "true"
    assert "acme/web" in ats("project", "list", "acme").out

    calls = iter([(404, {"error": "Organization not found", "code": "not_found"}),
                  (201, {"project": project})])  # fmt: skip
    fake.routes[("POST", "/orgs/acme/projects")] = lambda _request: next(calls)
    fake.on("POST", "/orgs", 201, {"organization": {"slug": "acme", "name": "acme"}})
    created = ats("project", "create", "acme/web", "--name", "Web", "-f", "json")
    assert created.code == 0, created.err
    assert created.json() == project
    assert [(r.method, r.url.path) for r in fake.requests[-3:]] == [
        ("POST", "/orgs/acme/projects"), ("POST", "/orgs"), ("POST", "/orgs/acme/projects"),
    ]  # fmt: skip

    fake.on("GET", "/orgs/acme/projects/web", 200, {"project": project})
    assert ats("project", "show", "acme/web", "-f", "json").json() == project

    ats("project", "switch", "acme/web")
    renamed = project | {"slug": "site", "name": "Site"}
    fake.on("PATCH", "/orgs/acme/projects/web", 200, {"project": renamed})
    assert ats("project", "rename", "Site", "--slug", "site").code == 0
    assert fake.last_body() == {"slug": "site", "name": "Site"}
    assert config(isolated / ".ats/config")["project"] == "site"
