"""``ats watch`` as a daemon runs it: a real process reading a real server, killed and restarted."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, start_server, stop_server


class Watcher:
    """``ats watch …`` with its stdout lines collected, each stamped with when it arrived."""

    def __init__(self, url: str, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ats", "watch", *argv, "-u", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "ATS_ACTOR_ID": "watcher"},
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.rstrip("\n")))

    def ready(self) -> None:
        """Wait for the 'Watching…' notice on stderr: subscribed from here on."""
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert line.startswith("Watching events"), line

    def next(self, timeout: float = 10) -> tuple[float, str]:
        return self.lines.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            self.lines.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        self.proc.send_signal(sig)
        code = self.proc.wait(10)
        self._reader.join(5)
        err = self.proc.stderr.read() if self.proc.stderr else ""
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        return code, err


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    made: list[Watcher] = []
    yield made
    for w in made:
        if w.proc.poll() is None:
            w.stop(signal.SIGKILL)


def create(url: str, title: str, **fields: Any) -> dict[str, Any]:
    r = httpx.post(f"{url}/tasks", json={"title": title, **fields}, timeout=10)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_channel_filter_latency_and_event_filter(server_url: str, watchers: list[Watcher]) -> None:
    w1 = Watcher(server_url, "--channel", "w1")
    done = Watcher(server_url, "-f", "json", "--events", "task.completed")
    watchers += [w1, done]
    w1.ready()
    done.ready()
    delays = []
    for i in range(5):
        create(server_url, f"noise {i}", channel="w2")
        sent = time.monotonic()
        task = create(server_url, f"wanted {i}", channel="w1")
        arrived, line = w1.next()
        assert line == f"Task #{task['id']}: wanted {i}"  # never a w2 task in between
        delays.append(arrived - sent)
    assert w1.none_within(0.5)  # nothing more: no w2 task ever
    assert max(delays) < 0.1, delays  # "within 100 ms", request time included

    # --events task.completed: only completions, as compact JSON lines with the spec's fields
    task = create(server_url, "finish me", channel="w1")
    headers = {"X-Actor-ID": "worker", "X-Actor-Name": "Worker"}
    claimed = httpx.post(f"{server_url}/tasks/{task['id']}/claim", headers=headers).json()
    r = httpx.post(
        f"{server_url}/tasks/{task['id']}/complete",
        json={"outputs": {"ok": True}, "lease_token": claimed["lease_token"]},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    _, line = done.next()
    record = json.loads(line)
    assert list(record) == [
        "event", "task_id", "id", "title", "status", "channel", "task_type", "priority",
        "payload", "actor_name", "event_id", "timestamp",
    ]  # fmt: skip
    assert record["event"] == "task.completed" and record["status"] == "completed"
    assert (record["task_id"], record["title"], record["actor_name"]) == (
        task["id"],
        "finish me",
        "Worker",
    )
    assert line == json.dumps(record, separators=(",", ":"), ensure_ascii=False)  # compact
    assert done.none_within(0.5)  # created / claimed events were not shown
    for w in (w1, done):
        code, err = w.stop()
        assert code == 0, err  # Ctrl-C exits 0
        assert "Traceback" not in err


def test_watch_replays_from_since(server_url: str, watchers: list[Watcher]) -> None:
    first = create(server_url, "before")
    events = httpx.get(f"{server_url}/events", params={"since": 0}).json()["events"]
    before = events[-1]["id"]
    second = create(server_url, "after")
    w = Watcher(server_url, "--since", str(before - 1), "-f", "json")
    watchers.append(w)
    got = [json.loads(w.next()[1]) for _ in range(2)]
    assert [g["task_id"] for g in got] == [first["id"], second["id"]]
    code, _ = w.stop(signal.SIGTERM)
    assert code == 0


@pytest.mark.slow
def test_watcher_survives_a_killed_server_and_sees_every_event_once(
    db_url: str, watchers: list[Watcher]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, port=port)
    w = Watcher(url, "-f", "json")
    watchers.append(w)
    expected: list[tuple[int, str]] = []
    try:
        w.ready()
        for i in range(3):
            expected.append((create(url, f"before {i}")["id"], "task.created"))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        time.sleep(1.0)  # the watcher notices and starts backing off
    finally:
        stop_server(proc)
    proc = start_server(db_url, port=port)
    try:
        for i in range(3):
            task = create(url, f"after {i}")
            expected.append((task["id"], "task.created"))
        r = httpx.post(f"{url}/tasks/{expected[0][0]}/cancel")
        assert r.status_code == 200
        expected.append((expected[0][0], "task.cancelled"))
        got = []
        seen_ids = []
        for _ in expected:
            record = json.loads(w.next(timeout=20)[1])
            got.append((record["task_id"], record["event"]))
            seen_ids.append(record["event_id"])
        assert got == expected  # every event, in order
        assert seen_ids == sorted(set(seen_ids))  # none twice
        assert w.none_within(1.0)
        code, err = w.stop()
        assert code == 0, err
        assert "reconnecting" in err and "Traceback" not in err
    finally:
        stop_server(proc)
