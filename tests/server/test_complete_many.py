"""POST /tasks/complete (extension): many completions in one call, each settled on its own."""

from __future__ import annotations

import httpx

from tests.server.test_tasks import AGENT_A, AGENT_B, create


async def test_claim_fifty_complete_fifty(client: httpx.AsyncClient) -> None:
    await client.post("/tasks/bulk", json={"tasks": [{"title": f"t{i}"} for i in range(60)]})
    claimed = (await client.post("/tasks/claim", json={"limit": 50}, headers=AGENT_A)).json()[
        "tasks"
    ]
    assert len(claimed) == 50
    items = [{"id": t["id"], "outputs": {"n": t["id"]}, "lease_token": t["lease_token"]}
             for t in claimed]  # fmt: skip
    r = await client.post("/tasks/complete", json={"tasks": items}, headers=AGENT_A)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == []
    assert sorted(t["id"] for t in body["tasks"]) == sorted(t["id"] for t in claimed)
    assert all(t["status"] == "completed" for t in body["tasks"])
    one = (await client.get(f"/tasks/{claimed[0]['id']}")).json()
    assert one["outputs"] == [{"n": claimed[0]["id"]}]
    stats = (await client.get("/tasks/stats")).json()["stats"]
    assert stats["by_status"]["completed"] == 50 and stats["by_status"]["pending"] == 10
    events = await client.get("/events", params={"event": "task.completed", "limit": 1000})
    assert len(events.json()["events"]) == 50


async def test_each_item_settles_on_its_own(client: httpx.AsyncClient) -> None:
    mine = (await create(client))["id"]
    theirs = (await create(client))["id"]
    done = (await create(client))["id"]
    token = (await client.post(f"/tasks/{mine}/claim", headers=AGENT_A)).json()["lease_token"]
    await client.post(f"/tasks/{theirs}/claim", headers=AGENT_B)
    await client.post(f"/tasks/{done}/complete")
    items = [
        {"id": mine, "lease_token": token},
        {"id": theirs},
        {"id": done},
        {"id": 999999},
        {"id": mine},
    ]
    body = (await client.post("/tasks/complete", json={"tasks": items}, headers=AGENT_A)).json()
    assert [t["id"] for t in body["tasks"]] == [mine]
    errors = {(e["id"], e["code"]) for e in body["errors"]}
    assert errors == {(theirs, "conflict"), (done, "conflict"), (999999, "not_found"),
                      (mine, "conflict")}  # fmt: skip
    assert (await client.get(f"/tasks/{theirs}")).json()["status"] == "in_progress"


async def test_bad_batches(client: httpx.AsyncClient) -> None:
    assert (await client.post("/tasks/complete", json={"tasks": []})).status_code == 400
    too_many = [{"id": 1}] * 101
    assert (await client.post("/tasks/complete", json={"tasks": too_many})).status_code == 400
    r = await client.post("/tasks/complete", json={"tasks": [{"id": "x"}]})
    assert r.status_code == 400 and "id" in r.json()["error"]
