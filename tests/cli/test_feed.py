"""``ats feed …`` against a scripted server: what is sent, stdout, stderr, files, exit codes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ats.cli import session as session_module

from .conftest import Ats

try:
    from client.fake import FakeServer
except ImportError:  # pragma: no cover
    from tests.client.fake import FakeServer

ID1, ID2 = "01HZZ000000000000000000001", "01HZZ000000000000000000002"
E1 = {"id": ID1, "agent": "claude", "type": "finding", "summary": "the cache is cold",
      "timestamp": "2026-02-25T22:46:55.123Z"}  # fmt: skip
E2 = {"id": ID2, "agent": "codex", "type": "blocker_found", "summary": "tests hang",
      "detail": "since the last merge", "metadata": {"file": "a.py"},
      "timestamp": "2026-02-25T22:47:00.000Z"}  # fmt: skip
JSONL = (json.dumps(E1) + "\n" + json.dumps(E2) + "\n").encode()


class SigtermAfter(httpx.AsyncByteStream):
    """An SSE body that, once sent, has the process told to stop (as `kill` would)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(30)


@dataclass
class FeedFake(FakeServer):
    """The scripted server, plus the two feed routes whose bodies are not JSON."""

    export: bytes = b""
    frames: list[bytes] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/feed/export":
            self.requests.append(request)
            return httpx.Response(200, content=self.export)
        if request.url.path == "/feed/stream":
            self.requests.append(request)
            return httpx.Response(200, stream=SigtermAfter(self.frames))
        return super().handle(request)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FeedFake:
    server = FeedFake()
    real = session_module.AsyncClient

    class Scripted(real):  # type: ignore[valid-type, misc]  # a runtime subclass of the real client
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs, transport=server.transport())

    monkeypatch.setattr(session_module, "AsyncClient", Scripted)
    return server


# -- publish -------------------------------------------------------------------------------------


def test_publish_prints_one_line_or_the_servers_event(ats: Ats, fake: FeedFake) -> None:
    fake.on("POST", "/feed/events", 201, E2)
    result = ats("feed", "publish", "codex", "blocker_found", "tests hang",
                 "--detail", "since the last merge", "--metadata", '{"file": "a.py"}')  # fmt: skip
    assert result.code == 0, result.err
    assert fake.last_body() == {k: v for k, v in E2.items() if k not in ("id", "timestamp")}
    assert result.out.count("\n") == 1
    for part in (ID2, "codex", "blocker_found", "tests hang"):
        assert part in result.out
    assert ats("feed", "publish", "codex", "FINDING", "x", "-f", "json").json() == E2
    assert fake.last_body() == {"agent": "codex", "type": "finding", "summary": "x"}


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["bogus", "x"], "'bogus' is not a feed event type"),
        (["finding", "x", "--metadata", "[1]"], "--metadata must be a JSON object"),
        (["finding", "x", "--metadata", "{nope"], "--metadata is not valid JSON"),
    ],
)
def test_publish_usage_errors(ats: Ats, fake: FeedFake, argv: list[str], says: str) -> None:
    result = ats("feed", "publish", "claude", *argv)
    assert result.code == 2
    assert says in " ".join(result.err.split())  # rich wraps the message in a box
    assert fake.requests == []
    if "bogus" in says:
        assert "task_started" in result.err and "custom" in result.err


# -- list, get, stats, clear ---------------------------------------------------------------------


def test_list_json_is_the_servers_array_and_filters_become_params(ats: Ats, fake: FeedFake) -> None:
    fake.on("GET", "/feed/events", 200, [E1, E2])
    result = ats("feed", "list", "--agent", "claude", "--type", "finding",
                 "--since", ID1.lower(), "--limit", "5", "-f", "json")  # fmt: skip
    assert result.code == 0, result.err
    assert result.json() == [E1, E2] and result.err == ""
    params = dict(fake.last.url.params)
    assert params == {"agent": "claude", "type": "finding", "since": ID1, "limit": "5"}

    assert ats("feed", "list", "--since", "2026-02-25T22:00:00Z").code == 0
    assert fake.last.url.params["since"] == "2026-02-25T22:00:00.000Z"
    assert ats("feed", "list", "--since", "1h").code == 0
    assert fake.last.url.params["since"].endswith("Z")


def test_list_table_and_empty(ats: Ats, fake: FeedFake) -> None:
    fake.on("GET", "/feed/events", 200, [E1, E2])
    out = ats("feed", "list").out
    assert "TIME" in out and "AGENT" in out and "SUMMARY" in out
    assert out.index("the cache is cold") < out.index("tests hang")  # oldest first
    fake.on("GET", "/feed/events", 200, [])
    empty = ats("feed", "list")
    assert (empty.code, empty.out, empty.err) == (0, "", "No feed events.\n")


def test_list_usage_errors(ats: Ats, fake: FeedFake) -> None:
    assert ats("feed", "list", "--since", "whenever").code == 2
    assert ats("feed", "list", "--limit", "0").code == 2
    assert ats("feed", "list", "--type", "nope").code == 2
    assert fake.requests == []


def test_get(ats: Ats, fake: FeedFake) -> None:
    fake.on("GET", f"/feed/events/{ID2}", 200, E2)
    assert ats("feed", "get", ID2, "-f", "json").json() == E2
    out = ats("feed", "get", ID2).out
    for part in ("tests hang", "codex", "blocker_found", "since the last merge", '"file": "a.py"'):
        assert part in out
    fake.on("GET", f"/feed/events/{ID1}", 404, {"error": "Event not found"})
    missing = ats("feed", "get", ID1)
    assert (missing.code, missing.out, missing.err) == (3, "", "Error: Event not found\n")


def test_stats(ats: Ats, fake: FeedFake) -> None:
    stats = {"total": 2, "byAgent": {"claude": 1, "codex": 1},
             "byType": {"finding": 1, "blocker_found": 1},
             "latestPerAgent": {"claude": E1, "codex": E2}}  # fmt: skip
    fake.on("GET", "/feed/stats", 200, stats)
    assert ats("feed", "stats", "-f", "json").json() == stats
    out = ats("feed", "stats").out
    assert "Total feed events: 2" in out and "tests hang" in out and "blocker_found" in out


def test_clear_needs_yes(ats: Ats, fake: FeedFake) -> None:
    refused = ats("feed", "clear")
    assert refused.code == 2 and "--yes" in refused.err
    assert fake.requests == []
    fake.on("DELETE", "/feed/events", 200, {"ok": True})
    assert ats("feed", "clear", "--yes", "-f", "json").json() == {"ok": True}
    assert fake.last.method == "DELETE"
    fake.on("DELETE", "/orgs/acme/projects/web/feed/events", 200, {"ok": True})
    done = ats("feed", "clear", "-y", "--org", "acme", "--project", "web")
    assert done.code == 0, done.err
    assert done.out == "Cleared the activity feed at project acme/web\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 1)])
def test_clear_asks_at_a_terminal(
    ats: Ats, fake: FeedFake, monkeypatch: pytest.MonkeyPatch, answer: str, code: int
) -> None:
    fake.on("DELETE", "/feed/events", 200, {"ok": True})
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    result = ats("feed", "clear")
    assert result.code == code
    assert "Delete every activity-feed event at http://127.0.0.1:8765?" in result.err
    assert [r.method for r in fake.requests] == (["DELETE"] if code == 0 else [])


# -- export / import -----------------------------------------------------------------------------


def test_export_to_a_file_and_to_stdout(ats: Ats, fake: FeedFake, isolated: Path) -> None:
    fake.export = JSONL
    result = ats("feed", "export", "feed.jsonl")
    assert result.code == 0, result.err
    assert (isolated / "feed.jsonl").read_bytes() == JSONL
    assert "Exported 2 events to feed.jsonl" in result.out
    assert fake.last.headers["Accept"] == "application/x-ndjson"
    assert ats("feed", "export", "again.jsonl", "-f", "json").json() == {
        "exported": 2,
        "file": "again.jsonl",
    }
    piped = ats("feed", "export", "-")
    assert (piped.code, piped.out) == (0, JSONL.decode())
    unwritable = ats("feed", "export", "no/such/dir/feed.jsonl")
    assert unwritable.code == 1 and unwritable.err.startswith("Error: cannot write")


def test_import(ats: Ats, fake: FeedFake, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / "feed.jsonl").write_bytes(JSONL)
    fake.on("POST", "/feed/import", 201, {"imported": 2})
    result = ats("feed", "import", "feed.jsonl")
    assert result.code == 0, result.err
    assert fake.last.content == JSONL
    assert fake.last.headers["Content-Type"] == "application/x-ndjson"
    assert "Imported 2 events from feed.jsonl" in result.out
    assert ats("feed", "import", "feed.jsonl", "-f", "json").json() == {"imported": 2}

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(JSONL)))
    assert ats("feed", "import", "-").code == 0
    assert fake.last.content == JSONL


def test_import_errors(ats: Ats, fake: FeedFake, isolated: Path) -> None:
    missing = ats("feed", "import", "nope.jsonl")
    assert missing.code == 2 and "cannot read nope.jsonl" in missing.err
    assert fake.requests == []
    (isolated / "bad.jsonl").write_text("{}\n")
    error = {"error": "line 7: type: required", "line": 7}
    fake.on("POST", "/feed/import", 400, error)
    bad = ats("feed", "import", "bad.jsonl")
    assert (bad.code, bad.out) == (1, "")
    assert bad.err == "Error: bad.jsonl: line 7: type: required\n"


# -- tail ----------------------------------------------------------------------------------------


def frames(*events: dict[str, Any]) -> list[bytes]:
    return [b": heartbeat\n\n"] + [
        f"id: {e['id']}\ndata: {json.dumps(e)}\n\n".encode() for e in events
    ]


def test_tail_prints_lines_and_sigterm_exits_0(ats: Ats, fake: FeedFake) -> None:
    fake.on("GET", "/feed/events", 200, [])  # the newest event: none yet
    fake.frames = frames(E1, E2)
    result = ats("feed", "tail", "--agent", "claude")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 2
    assert "finding" in lines[0] and "claude: the cache is cold" in lines[0]
    assert "blocker_found" in lines[1] and "codex: tests hang" in lines[1]
    assert "Following the activity feed" in result.err
    stream = fake.requests[-1]
    assert stream.url.params["agent"] == "claude"
    assert stream.url.params["since"] == "0" * 26


def test_tail_json_is_one_compact_object_per_line(ats: Ats, fake: FeedFake) -> None:
    fake.frames = frames(E1, E2)
    result = ats("feed", "tail", "-f", "json", "--since", ID1, "--type", "finding")
    assert result.code == 0, result.err
    compact = [json.dumps(e, separators=(",", ":")) + "\n" for e in (E1, E2)]
    assert result.out == "".join(compact)
    assert dict(fake.last.url.params) == {"type": "finding", "since": ID1}


# -- against a real server (SQLite and PostgreSQL) -----------------------------------------------


def test_live_publish_list_get_stats_export_clear_import(
    server_url: str, ats: Ats, isolated: Path
) -> None:
    def run(*argv: str) -> Any:
        result = ats("feed", *argv, "-u", server_url, "-f", "json")
        assert result.code == 0, result.err
        return result.json()

    first = run("publish", "claude", "task_started", "on it", "--metadata", '{"task": 5}')
    assert first["metadata"] == {"task": 5} and "detail" not in first
    second = run("publish", "codex", "blocker_found", "stuck", "--detail", "flaky test")
    assert second["id"] > first["id"]
    assert [e["id"] for e in run("list")] == [first["id"], second["id"]]
    assert run("list", "--since", first["id"]) == [second]
    assert run("list", "--agent", "claude") == [first]
    assert run("list", "--type", "blocker_found", "--limit", "1") == [second]
    assert run("get", second["id"]) == second
    assert run("stats")["byType"] == {"task_started": 1, "blocker_found": 1}

    assert run("export", "feed.jsonl")["exported"] == 2
    lines = (isolated / "feed.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [first, second]
    assert run("clear", "--yes") == {"ok": True}
    assert run("list") == []
    missing = ats("feed", "get", first["id"], "-u", server_url)
    assert (missing.code, missing.err) == (3, "Error: Event not found\n")
    imported = ats("feed", "import", "feed.jsonl", "-u", server_url)
    assert imported.code == 0 and "Imported 2 events" in imported.out
    assert run("list") == [first, second]

    (isolated / "bad.jsonl").write_text(lines[0] + "\n\n" + '{"agent": "x"}\n')
    bad = ats("feed", "import", "bad.jsonl", "-u", server_url)
    assert bad.code == 1 and bad.err.startswith("Error: bad.jsonl: line 3: ")
    assert len(run("list")) == 2  # all or nothing

    table = ats("feed", "list", "-u", server_url)
    assert "on it" in table.out and "stuck" in table.out and "codex" in table.out


def test_live_tail_replays_follows_and_stops_on_sigterm(server_url: str, ats: Ats) -> None:
    def publish(summary: str) -> dict[str, Any]:
        result = ats("feed", "publish", "bot", "custom", summary, "-u", server_url, "-f", "json")
        assert result.code == 0, result.err
        event: dict[str, Any] = result.json()
        return event

    start, replayed = publish("start"), publish("missed")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ats", "feed", "tail", "--since", start["id"], "-f", "json",
         "-u", server_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert "Following the activity feed" in proc.stderr.readline()
        live = [publish(f"live {i}") for i in range(2)]
        got = [json.loads(proc.stdout.readline()) for _ in range(3)]
        assert got == [replayed, *live]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
