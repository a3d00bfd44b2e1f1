"""Dependencies (SPEC §2.2): waiting, claim-next skipping, cascade failure, cycles."""

from __future__ import annotations

import httpx

from tests.server.test_tasks import create

W = {"X-Actor-ID": "worker"}


async def claim_next(client: httpx.AsyncClient, **body: object) -> list[int]:
    r = await client.post("/tasks/claim", json=body, headers=W)
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["tasks"]]


async def test_dependent_waits_until_dependency_completes(client: httpx.AsyncClient) -> None:
    first = (await create(client, title="first", priority=1))["id"]
    second = await create(client, title="second", priority=10, depends_on=[first])
    assert second["depends_on"] == [first]
    explicit = await client.post(f"/tasks/{second['id']}/claim", headers=W)
    assert explicit.status_code == 409
    assert "waiting on dependencies" in explicit.json()["error"]
    assert "pending status" in explicit.json()["error"]
    # the higher-priority dependent is skipped: the dependency comes out first
    assert await claim_next(client) == [first]
    assert await claim_next(client) == []
    await client.post(f"/tasks/{first}/complete", headers=W)
    assert await claim_next(client) == [second["id"]]


async def test_legacy_payload_depends_on(client: httpx.AsyncClient) -> None:
    a = (await create(client))["id"]
    b = (await create(client))["id"]
    t = await create(client, payload={"depends_on": [str(a), b]})
    assert t["depends_on"] == [a, b]
    scalar = await create(client, payload={"depends_on": a})
    assert scalar["depends_on"] == [a]
    bad = await client.post("/tasks", json={"title": "x", "payload": {"depends_on": ["abc"]}})
    assert bad.status_code == 400 and "depends_on" in bad.json()["error"]


async def test_failure_cascades_recursively(client: httpx.AsyncClient) -> None:
    root = (await create(client))["id"]
    child = (await create(client, depends_on=[root]))["id"]
    grandchild = (await create(client, depends_on=[child]))["id"]
    unrelated = (await create(client))["id"]
    await client.post(f"/tasks/{root}/fail", json={"reason": "boom"})
    c = (await client.get(f"/tasks/{child}")).json()
    g = (await client.get(f"/tasks/{grandchild}")).json()
    assert c["status"] == "failed" and c["reason"] == f"Blocked: dependency #{root} (failed)"
    assert g["status"] == "failed" and g["reason"] == f"Blocked: dependency #{child} (failed)"
    assert (await client.get(f"/tasks/{unrelated}")).json()["status"] == "pending"
    events = (await client.get("/events", params={"event": "task.failed"})).json()["events"]
    assert [e["task_id"] for e in events] == [root, child, grandchild]


async def test_cancel_cascades_too(client: httpx.AsyncClient) -> None:
    root = (await create(client))["id"]
    child = (await create(client, depends_on=[root]))["id"]
    await client.post(f"/tasks/{root}/cancel")
    c = (await client.get(f"/tasks/{child}")).json()
    assert c["status"] == "failed" and c["reason"] == f"Blocked: dependency #{root} (cancelled)"


async def test_depending_on_an_already_failed_task_fails_at_once(
    client: httpx.AsyncClient,
) -> None:
    root = (await create(client))["id"]
    await client.post(f"/tasks/{root}/fail")
    child = await create(client, depends_on=[root])
    assert child["status"] == "failed"
    assert child["reason"] == f"Blocked: dependency #{root} (failed)"


async def test_missing_dependency_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/tasks", json={"title": "x", "depends_on": [987654]})
    assert r.status_code == 400 and "987654" in r.json()["error"]
    assert (await client.get("/tasks")).json()["count"] == 0


async def test_cycle_is_refused(client: httpx.AsyncClient) -> None:
    a = (await create(client))["id"]
    b = (await create(client, depends_on=[a]))["id"]
    c = (await create(client, depends_on=[b]))["id"]
    r = await client.patch(f"/tasks/{a}", json={"depends_on": [c]})
    assert r.status_code == 400 and "cycle" in r.json()["error"]
    self_loop = await client.patch(f"/tasks/{a}", json={"depends_on": [a]})
    assert self_loop.status_code == 400
    assert (await client.get(f"/tasks/{a}")).json()["depends_on"] == []
    ok = await client.patch(f"/tasks/{c}", json={"depends_on": [a]})
    assert ok.status_code == 200 and ok.json()["depends_on"] == [a]
