"""The task API on both backends: shapes, defaults, the status machine, messages, stats."""

from __future__ import annotations

import httpx

AGENT_A = {"X-Actor-Type": "agent", "X-Actor-ID": "agent-a", "X-Actor-Name": "Agent A"}
AGENT_B = {"X-Actor-Type": "agent", "X-Actor-ID": "agent-b", "X-Actor-Name": "Agent B"}


async def create(client: httpx.AsyncClient, **body: object) -> dict:
    body.setdefault("title", "a task")
    r = await client.post("/tasks", json=body, headers=AGENT_A)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_defaults_and_shape(client: httpx.AsyncClient) -> None:
    task = await create(client, title="Write the report")
    assert isinstance(task["id"], int)
    assert task["status"] == "pending"
    assert task["priority"] == 5
    assert task["type"] == "task"
    assert task["channel"] == "default"
    assert task["payload"] == {}
    assert task["outputs"] is None
    assert task["project"] == "default/main"
    assert (task["source_type"], task["source_id"], task["source_name"]) == (
        "agent",
        "agent-a",
        "Agent A",
    )
    assert task["lease_expires"] is None
    assert task["created_at"].endswith("Z") and len(task["created_at"]) == 24
    assert "messages" not in task


async def test_payload_is_kept_verbatim(client: httpx.AsyncClient) -> None:
    raw = b'{"title":"p","payload":{"z":1,"a":{"y":[1,2.5,"x"],"b":null},"m":true}}'
    r = await client.post("/tasks", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 201
    task_id = r.json()["id"]
    got = (await client.get(f"/tasks/{task_id}")).json()
    assert list(got["payload"]) == ["z", "a", "m"]
    assert got["payload"] == {"z": 1, "a": {"y": [1, 2.5, "x"], "b": None}, "m": True}


async def test_full_lifecycle_claim_complete(client: httpx.AsyncClient) -> None:
    task = await create(client, title="t", channel="ops:east-1", type="review", priority=9)
    tid = task["id"]
    claimed = (await client.post(f"/tasks/{tid}/claim", headers=AGENT_B)).json()
    assert claimed["status"] == "in_progress"
    assert claimed["assignee_id"] == "agent-b"
    assert claimed["attempts"] == 1 and claimed["lease_token"] == 1
    assert claimed["lease_expires"] is not None
    done = await client.post(
        f"/tasks/{tid}/complete", json={"outputs": {"answer": 42}}, headers=AGENT_B
    )
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "completed"
    assert body["outputs"] == [{"answer": 42}]
    assert body["lease_expires"] is None
    again = await client.post(f"/tasks/{tid}/claim", headers=AGENT_B)
    assert again.status_code == 409
    assert "completed status" in again.json()["error"]


async def test_claim_default_and_custom_lease(client: httpx.AsyncClient) -> None:
    from ats.models import parse_iso

    t1 = await create(client)
    c1 = (await client.post(f"/tasks/{t1['id']}/claim", headers=AGENT_A)).json()
    span = parse_iso(c1["lease_expires"]) - parse_iso(c1["updated_at"])
    assert span == 60_000
    t2 = await create(client)
    c2 = (
        await client.post(
            f"/tasks/{t2['id']}/claim", json={"lease_duration": 5000}, headers=AGENT_A
        )
    ).json()
    assert parse_iso(c2["lease_expires"]) - parse_iso(c2["updated_at"]) == 5000


async def test_claim_by_other_actor_is_409_same_actor_renews(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    first = (await client.post(f"/tasks/{tid}/claim", headers=AGENT_A)).json()
    lost = await client.post(f"/tasks/{tid}/claim", headers=AGENT_B)
    assert lost.status_code == 409
    assert "already claimed (in_progress status)" in lost.json()["error"]
    renewed = (
        await client.post(f"/tasks/{tid}/claim", json={"lease_duration": 90000}, headers=AGENT_A)
    ).json()
    assert renewed["lease_token"] == first["lease_token"]
    assert renewed["attempts"] == 1
    assert renewed["lease_expires"] > first["lease_expires"]


async def test_only_the_holder_completes_or_fails(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    await client.post(f"/tasks/{tid}/claim", headers=AGENT_A)
    for verb in ("complete", "fail"):
        r = await client.post(f"/tasks/{tid}/{verb}", headers=AGENT_B)
        assert r.status_code == 409
        assert "in_progress status" in r.json()["error"]
    assert (await client.get(f"/tasks/{tid}")).json()["status"] == "in_progress"


async def test_stale_lease_token_is_refused(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    claimed = (await client.post(f"/tasks/{tid}/claim", headers=AGENT_A)).json()
    stale = await client.post(
        f"/tasks/{tid}/complete", json={"lease_token": claimed["lease_token"] - 1}, headers=AGENT_A
    )
    assert stale.status_code == 409
    ok = await client.post(
        f"/tasks/{tid}/complete", json={"lease_token": claimed["lease_token"]}, headers=AGENT_A
    )
    assert ok.status_code == 200


async def test_fail_reject_reopen_keep_reason(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    failed = (await client.post(f"/tasks/{tid}/fail", json={"reason": "disk full"})).json()
    assert failed["status"] == "failed" and failed["reason"] == "disk full"
    reopened = (await client.post(f"/tasks/{tid}/reopen", json={"reason": "retry"})).json()
    assert reopened["status"] == "pending" and reopened["reason"] == "retry"
    rejected = (await client.post(f"/tasks/{tid}/reject", json={"reason": "dup"})).json()
    assert rejected["status"] == "rejected" and rejected["reason"] == "dup"
    bad = await client.post(f"/tasks/{tid}/reject")
    assert bad.status_code == 409 and "rejected status" in bad.json()["error"]
    not_terminal = await client.post(f"/tasks/{(await create(client))['id']}/reopen")
    assert not_terminal.status_code == 409 and "pending status" in not_terminal.json()["error"]


async def test_cancel_accepts_an_empty_json_body(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    r = await client.post(
        f"/tasks/{tid}/cancel", content=b"", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    again = await client.post(f"/tasks/{tid}/cancel")
    assert again.status_code == 409 and "cancelled status" in again.json()["error"]


async def test_release_gives_the_task_back(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    claimed = (await client.post(f"/tasks/{tid}/claim", headers=AGENT_A)).json()
    by_other = await client.post(f"/tasks/{tid}/release", headers=AGENT_B)
    assert by_other.status_code == 409
    released = await client.post(
        f"/tasks/{tid}/release",
        json={"reason": "busy", "lease_token": claimed["lease_token"]},
        headers=AGENT_A,
    )
    assert released.status_code == 200
    assert released.json()["status"] == "pending" and released.json()["lease_expires"] is None
    nxt = (await client.post("/tasks/claim", json={}, headers=AGENT_B)).json()["tasks"]
    assert [t["id"] for t in nxt] == [tid]
    assert nxt[0]["attempts"] == 2 and nxt[0]["lease_token"] == 2


async def test_release_with_delay_hides_the_task_from_claim_next(
    client: httpx.AsyncClient,
) -> None:
    tid = (await create(client))["id"]
    await client.post(f"/tasks/{tid}/claim", headers=AGENT_A)
    await client.post(f"/tasks/{tid}/release", json={"delay_ms": 60000}, headers=AGENT_A)
    assert (await client.post("/tasks/claim", json={}, headers=AGENT_B)).json()["tasks"] == []


async def test_release_can_refund_the_attempt(client: httpx.AsyncClient) -> None:
    """A graceful shutdown gives the task back without counting the attempt (extension)."""
    tid = (await create(client))["id"]
    claimed = (await client.post(f"/tasks/{tid}/claim", headers=AGENT_A)).json()
    assert claimed["attempts"] == 1
    released = await client.post(
        f"/tasks/{tid}/release",
        json={"refund_attempt": True, "lease_token": claimed["lease_token"]},
        headers=AGENT_A,
    )
    assert released.status_code == 200 and released.json()["attempts"] == 0
    again = (await client.post(f"/tasks/{tid}/claim", headers=AGENT_B)).json()
    assert again["attempts"] == 1 and again["lease_token"] == 2  # fencing still advances
    bad = await client.post(
        f"/tasks/{tid}/release", json={"refund_attempt": "yes"}, headers=AGENT_B
    )
    assert bad.status_code == 400 and "refund_attempt" in bad.json()["error"]


async def test_update_fields_and_status(client: httpx.AsyncClient) -> None:
    tid = (await create(client, description="old"))["id"]
    r = await client.patch(
        f"/tasks/{tid}",
        json={"title": "new", "priority": 2, "channel": "c2", "type": "bug", "payload": {"k": 1}},
    )
    body = r.json()
    assert (body["title"], body["priority"], body["channel"], body["type"]) == (
        "new",
        2,
        "c2",
        "bug",
    )
    assert body["payload"] == {"k": 1} and body["description"] == "old"
    r = await client.patch(f"/tasks/{tid}", json={"status": "completed", "description": None})
    assert r.json()["status"] == "completed" and r.json()["description"] is None


async def test_delete(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    r = await client.delete(f"/tasks/{tid}")
    assert r.json() == {"deleted": True, "id": tid}
    gone = await client.get(f"/tasks/{tid}")
    assert gone.status_code == 404 and "error" in gone.json()
    assert (await client.delete(f"/tasks/{tid}")).status_code == 404


async def test_messages_both_spellings(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    r1 = await client.post(
        f"/tasks/{tid}/messages",
        json={"parts": [{"type": "text", "content": "hello"}]},
        headers=AGENT_B,
    )
    assert r1.status_code == 201
    m = r1.json()
    assert (m["task_id"], m["actor_id"], m["parts"]) == (
        tid,
        "agent-b",
        [{"type": "text", "content": "hello"}],
    )
    r2 = await client.post(f"/tasks/{tid}/messages", json={"content": {"x": 1}, "type": "data"})
    assert r2.status_code == 201
    listed = (await client.get(f"/tasks/{tid}/messages")).json()["messages"]
    assert [p["parts"][0]["content"] for p in listed] == ["hello", {"x": 1}]
    task = (await client.get(f"/tasks/{tid}")).json()
    assert [m["id"] for m in task["messages"]] == [m["id"] for m in listed]
    missing = await client.post("/tasks/999999/messages", json={"content": "x"})
    assert missing.status_code == 404


async def test_list_filters_sort_and_count(client: httpx.AsyncClient) -> None:
    for i in range(6):
        await create(
            client,
            title=f"job {i}",
            channel="alpha" if i % 2 else "beta",
            priority=i + 1,
            description="needle" if i == 4 else None,
        )
    all_ = (await client.get("/tasks")).json()
    assert all_["count"] == 6 and len(all_["tasks"]) == 6
    page = (
        await client.get("/tasks", params={"limit": 2, "offset": 1, "sort_by": "priority"})
    ).json()
    assert page["count"] == 6
    assert [t["priority"] for t in page["tasks"]] == [5, 4]
    alpha = (await client.get("/tasks", params={"channel": "alpha", "min_priority": 4})).json()
    assert sorted(t["priority"] for t in alpha["tasks"]) == [4, 6]
    found = (await client.get("/tasks", params={"search": "NEEDLE"})).json()
    assert [t["title"] for t in found["tasks"]] == ["job 4"]
    asc = (await client.get("/tasks", params={"sort_by": "title", "sort_dir": "asc"})).json()
    assert [t["title"] for t in asc["tasks"]] == sorted(t["title"] for t in asc["tasks"])
    pending = (await client.get("/tasks", params={"status": "pending,in_progress"})).json()
    assert pending["count"] == 6


async def test_stats(client: httpx.AsyncClient) -> None:
    a = await create(client, channel="x")
    await create(client, channel="y")
    await client.post(f"/tasks/{a['id']}/complete", json={"outputs": []})
    stats = (await client.get("/tasks/stats")).json()["stats"]
    assert stats["total"] == 2
    assert stats["by_status"]["completed"] == 1 and stats["by_status"]["pending"] == 1
    assert stats["by_channel"] == {"x": 1, "y": 1}
    assert stats["completed_count"] == 1
    assert stats["avg_completion_seconds"] is not None
    assert stats["recent"]["created_24h"] == 2 and stats["recent"]["completed_7d"] == 1


async def test_health(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["status"] == "ok" and body["database"] in ("sqlite", "postgresql")
    assert "version" in body and body["timestamp"].endswith("Z")


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/tasks/{task_id}/claim" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_search_treats_wildcards_literally(client: httpx.AsyncClient) -> None:
    await create(client, title="100% done")
    await create(client, title="a_b")
    await create(client, title="plain")
    found = (await client.get("/tasks", params={"search": "%"})).json()
    assert [t["title"] for t in found["tasks"]] == ["100% done"]
    found = (await client.get("/tasks", params={"search": "_"})).json()
    assert [t["title"] for t in found["tasks"]] == ["a_b"]


async def test_count_survives_an_offset_past_the_end(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await create(client, title=f"t{i}")
    page = (await client.get("/tasks", params={"offset": 10})).json()
    assert page == {"tasks": [], "count": 3}
