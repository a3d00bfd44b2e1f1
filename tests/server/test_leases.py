"""Lease expiry (the reaper), fencing, max_attempts."""

from __future__ import annotations

import asyncio

import httpx

from tests.server.test_tasks import AGENT_A, AGENT_B, create


async def wait_status(client: httpx.AsyncClient, tid: int, status: str) -> dict:
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        task = (await client.get(f"/tasks/{tid}")).json()
        if task["status"] == status:
            return task
        assert asyncio.get_running_loop().time() < deadline, f"still {task['status']}"
        await asyncio.sleep(0.05)


async def test_expired_lease_returns_to_pending_once(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    await client.post(f"/tasks/{tid}/claim", json={"lease_duration": 200}, headers=AGENT_A)
    task = await wait_status(client, tid, "pending")
    assert task["lease_expires"] is None and task["attempts"] == 1
    await asyncio.sleep(0.3)  # several more reaper rounds
    events = (await client.get("/events", params={"task_id": tid})).json()["events"]
    assert [e["type"] for e in events] == ["task.created", "task.claimed", "task.lease_expired"]


async def test_worker_that_lost_its_lease_cannot_complete(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    a = (
        await client.post(f"/tasks/{tid}/claim", json={"lease_duration": 150}, headers=AGENT_A)
    ).json()
    await wait_status(client, tid, "pending")
    b = (await client.post(f"/tasks/{tid}/claim", headers=AGENT_B)).json()
    assert b["lease_token"] > a["lease_token"]
    late = await client.post(f"/tasks/{tid}/complete", json={"outputs": ["late"]}, headers=AGENT_A)
    assert late.status_code == 409
    assert "in_progress status" in late.json()["error"]
    # even with the same identity, the old token is refused (fencing)
    fenced = await client.post(
        f"/tasks/{tid}/complete", json={"lease_token": a["lease_token"]}, headers=AGENT_B
    )
    assert fenced.status_code == 409
    ok = await client.post(
        f"/tasks/{tid}/complete", json={"lease_token": b["lease_token"]}, headers=AGENT_B
    )
    assert ok.status_code == 200 and ok.json()["assignee_id"] == "agent-b"


async def test_max_attempts_fails_after_expiries(client: httpx.AsyncClient) -> None:
    tid = (await create(client, max_attempts=2))["id"]
    for _ in range(2):
        await client.post(f"/tasks/{tid}/claim", json={"lease_duration": 100}, headers=AGENT_A)
        if _ == 0:
            await wait_status(client, tid, "pending")
    task = await wait_status(client, tid, "failed")
    assert task["attempts"] == 2
    assert "Exceeded max retry attempts (2)" in task["reason"]
