"""The feed skill's requests, made with curl exactly as its scripts make them (SPEC §7)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl(*args: str) -> str:
    done = subprocess.run(["curl", "-s", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode in (0, 28), done.stderr  # 28: --max-time ended a stream
    return done.stdout


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    # the skill posts with -d and no Content-Type header (curl then says form-urlencoded)
    answer: dict[str, Any] = json.loads(
        curl("-X", "POST", f"{url}/feed/events", "-d", json.dumps(body))
    )
    return answer


def test_the_skill_with_curl(server_url: str) -> None:
    a = post(server_url, {"agent": "claude", "type": "task_started", "summary": "Working on #12"})
    b = post(server_url, {"agent": "gpt", "type": "finding", "summary": "Cache bug", "detail": "d"})
    c = post(
        server_url,
        {"agent": "claude", "type": "cost_update", "summary": "$0.42", "metadata": {"usd": 0.42}},
    )
    assert [a["agent"], b["type"], c["metadata"]] == ["claude", "finding", {"usd": 0.42}]

    listed = json.loads(curl(f"{server_url}/feed/events"))
    assert [e["id"] for e in listed] == [a["id"], b["id"], c["id"]]
    by_agent = json.loads(curl(f"{server_url}/feed/events?agent=claude"))
    assert [e["id"] for e in by_agent] == [a["id"], c["id"]]
    by_type = json.loads(curl(f"{server_url}/feed/events?type=finding"))
    assert [e["id"] for e in by_type] == [b["id"]]
    since = json.loads(curl(f"{server_url}/feed/events?since={a['id']}&limit=1"))
    assert [e["id"] for e in since] == [b["id"]]
    assert json.loads(curl(f"{server_url}/feed/events/{b['id']}")) == b

    # the stream: agent filter, and since replays before going live
    out = curl("-N", "--max-time", "1.5", f"{server_url}/feed/stream?agent=claude&since={a['id']}")
    ids = [line[4:] for line in out.splitlines() if line.startswith("id: ")]
    assert ids == [c["id"]]
    resumed = curl(
        "-N", "--max-time", "1.5", "-H", f"Last-Event-ID: {a['id']}", f"{server_url}/feed/stream"
    )
    assert [x[4:] for x in resumed.splitlines() if x.startswith("id: ")] == [b["id"], c["id"]]

    stats = json.loads(curl(f"{server_url}/feed/stats"))
    assert stats["total"] == 3 and stats["byAgent"] == {"claude": 2, "gpt": 1}

    # the polling loop: LAST_ID=...; curl "$URL/feed/events?since=$LAST_ID"
    last, seen = a["id"], []
    for _ in range(5):
        page = json.loads(curl(f"{server_url}/feed/events?since={last}"))
        if not page:
            break
        seen += [e["id"] for e in page]
        last = page[-1]["id"]
    assert seen == [b["id"], c["id"]]

    assert json.loads(curl("-X", "DELETE", f"{server_url}/feed/events")) == {"ok": True}
    assert json.loads(curl(f"{server_url}/feed/events")) == []
    bad = json.loads(curl("-X", "POST", f"{server_url}/feed/events", "-d", "{oops"))
    assert "error" in bad
