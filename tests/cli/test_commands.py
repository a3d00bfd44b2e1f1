"""Commands against a scripted server: stdout JSON, stderr, exit codes, what was sent."""

from __future__ import annotations

import io
import json
import socket
import sys

import pytest

from ats.models import Actor, ActorType

from .conftest import Ats

try:
    from client.fake import FakeServer, task_json
except ImportError:  # pragma: no cover
    from tests.client.fake import FakeServer, task_json

STATS = {
    "total": 3,
    "by_status": {"pending": 2, "completed": 1},
    "by_channel": {"default": 3},
    "avg_completion_seconds": 12.5,
    "completed_count": 1,
    "recent": {"created_24h": 3, "completed_24h": 1, "created_7d": 3, "completed_7d": 1},
}


def test_list_json_is_exactly_the_servers_tasks_array(ats: Ats, fake: FakeServer) -> None:
    tasks = [task_json(1), task_json(2, title="second")]
    fake.on("GET", "/tasks", 200, {"tasks": tasks, "count": 2})
    result = ats("list", "-f", "json")
    assert result.code == 0, result.err
    assert result.json() == tasks  # extra server fields kept, wrapper dropped
    assert result.err == ""
    assert fake.last.url.params["status"] == "pending"  # what needs attention


def test_list_all_and_filters_become_query_params(ats: Ats, fake: FakeServer) -> None:
    fake.on("GET", "/tasks", 200, {"tasks": [], "count": 0})
    result = ats(
        "list", "--all", "--priority", "5-8", "--channel", "ops", "--assignee", "bob",
        "--search", "db", "--sort", "priority", "-r", "--limit", "10", "--offset", "20",
        "--since", "2026-02-20T00:00:00Z",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert dict(fake.last.url.params) == {
        "channel": "ops",
        "assignee_id": "bob",
        "min_priority": "5",
        "max_priority": "8",
        "search": "db",
        "created_after": "2026-02-20T00:00:00.000Z",
        "sort_by": "priority",
        "sort_dir": "asc",
        "limit": "10",
        "offset": "20",
    }


def test_list_table_shows_aligned_rows(ats: Ats, fake: FakeServer) -> None:
    fake.on("GET", "/tasks", 200, {"tasks": [task_json(1, title="Fix the build")], "count": 1})
    result = ats("list")
    assert result.code == 0
    header, row = result.out.splitlines()[:2]
    assert header.split()[:3] == ["ID", "STATUS", "PRI"]
    assert "Fix the build" in row and "pending" in row
    assert header.index("TITLE") == row.index("Fix the build")


def test_create_sends_all_fields(ats: Ats, fake: FakeServer) -> None:
    fake.on("POST", "/tasks", 201, task_json(9, title="t"))
    result = ats(
        "create", "t", "--type", "bug", "--channel", "ops", "--priority", "9",
        "--description", "d", "--payload", '{"k": [1]}', "--depends-on", "1,2",
        "--max-attempts", "2", "-f", "json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert fake.last_body() == {
        "title": "t", "description": "d", "type": "bug", "channel": "ops", "priority": 9,
        "payload": {"k": [1]}, "depends_on": [1, 2], "max_attempts": 2,
    }  # fmt: skip
    assert result.json() == task_json(9, title="t")


def test_create_uses_the_configured_channel(
    ats: Ats, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATS_CHANNEL", "from-env")
    fake.on("POST", "/tasks", 201, task_json(1))
    assert ats("create", "t").code == 0
    assert fake.last_body()["channel"] == "from-env"


def test_create_rejects_bad_payload_as_usage(ats: Ats, fake: FakeServer) -> None:
    result = ats("create", "t", "--payload", "[1]")
    assert result.code == 2
    assert "--payload must be a JSON object" in result.err
    assert fake.requests == []


def test_global_options_after_the_command_set_the_identity(ats: Ats, fake: FakeServer) -> None:
    fake.on("POST", "/tasks/5/claim", 200, task_json(5, status="in_progress"))
    for argv in (["--actor-id", "x", "claim", "5"], ["claim", "5", "--actor-id", "x"]):
        assert ats(*argv).code == 0
        assert fake.last.headers["X-Actor-ID"] == "x"
        assert fake.last.headers["X-Actor-Name"] == "x"
        assert fake.last.headers["X-Actor-Type"] == "agent"


def test_claim_loser_exits_4_saying_already_claimed(ats: Ats, fake: FakeServer) -> None:
    error = {"error": "Task 5 already claimed (in_progress status)", "code": "conflict"}
    fake.on("POST", "/tasks/5/claim", 409, error)
    result = ats("claim", "5", "-f", "json")
    assert result.code == 4
    assert result.out == ""
    assert result.err.startswith("Error: ") and "already claimed" in result.err


def test_claim_next(ats: Ats, fake: FakeServer) -> None:
    fake.on("POST", "/tasks/claim", 200, {"tasks": [task_json(3, status="in_progress")]})
    result = ats(
        "claim", "--next", "--channel", "ops", "--limit", "2", "--lease", "9000", "-f", "json"
    )
    assert result.code == 0, result.err
    assert fake.last_body() == {"channel": "ops", "lease_duration": 9000, "limit": 2}
    assert [t["id"] for t in result.json()] == [3]


def test_claim_needs_an_id_or_next(ats: Ats, fake: FakeServer) -> None:
    assert ats("claim").code == 2
    assert ats("claim", "1", "--next").code == 2
    assert fake.requests == []


def test_not_found_exits_3(ats: Ats, fake: FakeServer) -> None:
    result = ats("get", "404")
    assert (result.code, result.out) == (3, "")
    assert result.err == "Error: Not found\n"


def test_bad_input_from_the_server_exits_1(ats: Ats, fake: FakeServer) -> None:
    fake.on("PATCH", "/tasks/1", 400, {"error": "priority: must be 1-10", "code": "invalid"})
    result = ats("update", "1", "--title", "x")
    assert result.code == 1
    assert result.err == "Error: priority: must be 1-10\n"


def test_unreachable_server_exits_5_naming_the_url(ats: Ats) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = ats("health", "-u", f"http://127.0.0.1:{port}")
    assert result.code == 5
    assert f"cannot reach the ATS server at http://127.0.0.1:{port}" in result.err


def test_lifecycle_commands_send_what_the_spec_says(ats: Ats, fake: FakeServer) -> None:
    for action in ("complete", "fail", "reject", "reopen", "cancel", "release"):
        fake.on("POST", f"/tasks/1/{action}", 200, task_json(1))
    assert ats("complete", "1", "--outputs", '{"ok": true}').code == 0
    assert fake.last_body() == {"outputs": {"ok": True}}
    assert ats("fail", "1", "--reason", "boom", "--lease-token", "4").code == 0
    assert fake.last_body() == {"reason": "boom", "lease_token": 4}
    assert ats("reject", "1", "--reason", "no").code == 0
    assert fake.last_body() == {"reason": "no"}
    assert ats("reopen", "1").code == 0
    assert fake.last_body() == {}
    assert ats("cancel", "1").code == 0
    assert fake.last.content == b""
    assert ats("release", "1", "--delay", "500", "--reason", "later").code == 0
    assert fake.last_body() == {"delay_ms": 500, "reason": "later"}


def test_messages(ats: Ats, fake: FakeServer) -> None:
    message = {"id": 1, "task_id": 2, "actor_type": "agent", "actor_id": "a", "actor_name": "A",
               "parts": [{"type": "data", "content": {"x": 1}}],
               "created_at": "2026-02-25T22:46:55.000Z"}  # fmt: skip
    fake.on("POST", "/tasks/2/messages", 201, message)
    fake.on("GET", "/tasks/2/messages", 200, {"messages": [message]})
    result = ats("message", "add", "2", '{"x": 1}', "--type", "data", "-f", "json")
    assert result.code == 0, result.err
    assert fake.last_body() == {"parts": [{"type": "data", "content": {"x": 1}}]}
    assert result.json() == message
    listed = ats("message", "list", "2", "-f", "json")
    assert listed.json() == [message]
    assert '{"x": 1}' in ats("message", "list", "2").out


def test_stats_json_is_the_stats_object(ats: Ats, fake: FakeServer) -> None:
    fake.on("GET", "/tasks/stats", 200, {"stats": STATS})
    assert ats("stats", "-f", "json").json() == STATS
    table = ats("stats")
    assert table.code == 0 and "Total tasks: 3" in table.out


def test_health_and_delete_json(ats: Ats, fake: FakeServer) -> None:
    health = {"status": "ok", "timestamp": "t", "version": "0.1.0", "database": "sqlite"}
    fake.on("GET", "/health", 200, health)
    fake.on("DELETE", "/tasks/3", 200, {"deleted": True, "id": 3})
    assert ats("health", "-f", "json").json() == health
    assert ats("delete", "3", "-f", "json").json() == {"deleted": True, "id": 3}


class Terminal(io.StringIO):
    """A stdin a person types into."""

    def isatty(self) -> bool:
        return True


def test_delete_from_a_script_does_not_ask(ats: Ats, fake: FakeServer) -> None:
    fake.on("DELETE", "/tasks/4", 200, {"deleted": True, "id": 4})
    for argv in (("delete", "4"), ("delete", "4", "--yes"), ("delete", "-y", "4")):
        done = ats(*argv)
        assert (done.code, done.out, done.err) == (0, "Deleted task #4\n", ""), argv
    assert [r.method for r in fake.requests] == ["DELETE"] * 3


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 1), ("", 1)])
def test_delete_at_a_terminal_asks_first(
    ats: Ats, fake: FakeServer, monkeypatch: pytest.MonkeyPatch, answer: str, code: int
) -> None:
    fake.on("GET", "/tasks/4", 200, task_json(4, title="Fix the parser"))
    fake.on("DELETE", "/tasks/4", 200, {"deleted": True, "id": 4})
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    done = ats("delete", "4")
    assert done.code == code
    assert "Delete task #4 ('Fix the parser') for good?" in done.err
    methods = [r.method for r in fake.requests]
    assert methods == (["GET", "DELETE"] if code == 0 else ["GET"])
    # click's prompt hands input() a " " for readline, which lands on stdout.
    assert done.out.strip() == ("Deleted task #4" if code == 0 else "")


def test_delete_yes_at_a_terminal_does_not_ask(
    ats: Ats, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.on("DELETE", "/tasks/4", 200, {"deleted": True, "id": 4})
    monkeypatch.setattr(sys, "stdin", Terminal(""))
    done = ats("delete", "4", "--yes", "-f", "json")
    assert (done.code, done.json(), done.err) == (0, {"deleted": True, "id": 4}, "")
    assert [r.method for r in fake.requests] == ["DELETE"]


def test_delete_of_a_missing_task_at_a_terminal_exits_3_unasked(
    ats: Ats, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.on("GET", "/tasks/9", 404, {"error": "Task not found"})
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    done = ats("delete", "9")
    assert done.code == 3
    assert "for good?" not in done.err
    assert [r.method for r in fake.requests] == ["GET"]


def test_verbose_traces_http_on_stderr_and_keeps_stdout_clean(ats: Ats, fake: FakeServer) -> None:
    fake.on("GET", "/tasks/1", 200, task_json(1))
    result = ats("get", "1", "-v", "-f", "json")
    assert result.json() == task_json(1)
    assert "> GET http://127.0.0.1:8765/tasks/1" in result.err
    assert "< 200 OK" in result.err


def test_scoped_settings_use_project_routes(ats: Ats, fake: FakeServer) -> None:
    fake.on("GET", "/orgs/acme/projects/web/tasks/1", 200, task_json(1, project="acme/web"))
    result = ats("get", "1", "--org", "acme", "--project", "web", "-f", "json")
    assert result.code == 0, result.err
    assert result.json()["project"] == "acme/web"


def test_version(ats: Ats) -> None:
    from ats import __version__

    assert ats("--version").out == f"ats {__version__}\n"
    assert ats("version", "-f", "json").json() == {"version": __version__}


def test_get_table_shows_detail(ats: Ats, fake: FakeServer) -> None:
    task = task_json(
        1, title="Ship", status="in_progress", assignee_type="agent", assignee_id="w",
        assignee_name="Worker", lease_expires="2026-02-25T22:47:55.000Z", messages=[],
    )  # fmt: skip
    fake.on("GET", "/tasks/1", 200, task)
    out = ats("get", "1").out
    assert "#1 Ship" in out and "in_progress" in out and "Worker" in out
    assert Actor(ActorType.AGENT, "w", "Worker").name in out
    assert json.loads(ats("get", "1", "-f", "json").out) == task
