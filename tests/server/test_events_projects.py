"""The event log (GET /events) and org/project scoping."""

from __future__ import annotations

import httpx

from tests.server.test_tasks import AGENT_A, create


async def test_every_change_appends_one_event_in_order(client: httpx.AsyncClient) -> None:
    tid = (await create(client, channel="ops"))["id"]
    await client.post(f"/tasks/{tid}/claim", headers=AGENT_A)
    await client.post(f"/tasks/{tid}/messages", json={"content": "hi"}, headers=AGENT_A)
    await client.patch(f"/tasks/{tid}", json={"priority": 9})
    await client.post(f"/tasks/{tid}/complete", headers=AGENT_A)
    await client.post(f"/tasks/{tid}/reopen")
    await client.post(f"/tasks/{tid}/cancel")
    await client.delete(f"/tasks/{tid}")
    events = (await client.get("/events", params={"since": 0})).json()["events"]
    assert [e["type"] for e in events] == [
        "task.created",
        "task.claimed",
        "task.message",
        "task.updated",
        "task.completed",
        "task.reopened",
        "task.cancelled",
        "task.deleted",
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    claimed = events[1]
    assert claimed["task_id"] == tid and claimed["channel"] == "ops"
    assert claimed["actor_id"] == "agent-a" and claimed["task_type"] == "task"
    assert claimed["data"]["task"]["status"] == "in_progress"
    assert events[2]["data"]["message"]["parts"] == [{"type": "text", "content": "hi"}]
    assert events[3]["data"]["task"]["priority"] == 9
    later = (await client.get("/events", params={"since": ids[3]})).json()["events"]
    assert [e["id"] for e in later] == ids[4:]
    only = (await client.get("/events", params={"event": "task.completed,task.cancelled"})).json()
    assert [e["type"] for e in only["events"]] == ["task.completed", "task.cancelled"]
    limited = (await client.get("/events", params={"limit": 2})).json()["events"]
    assert [e["id"] for e in limited] == ids[:2]


async def test_claim_next_orders_by_priority_then_age_and_filters(
    client: httpx.AsyncClient,
) -> None:
    low = (await create(client, priority=2, channel="c"))["id"]
    high1 = (await create(client, priority=8, channel="c"))["id"]
    high2 = (await create(client, priority=8, channel="c"))["id"]
    other = (await create(client, priority=10, channel="d", type="special"))["id"]
    r = await client.post("/tasks/claim", json={"channel": "c", "limit": 2}, headers=AGENT_A)
    got = r.json()["tasks"]
    assert [t["id"] for t in got] == [high1, high2]
    assert all(t["status"] == "in_progress" and t["assignee_id"] == "agent-a" for t in got)
    r = await client.post("/tasks/claim", json={"type": "special"}, headers=AGENT_A)
    assert [t["id"] for t in r.json()["tasks"]] == [other]
    r = await client.post("/tasks/claim", json={"lease_duration": 1000}, headers=AGENT_A)
    assert [t["id"] for t in r.json()["tasks"]] == [low]
    assert (await client.post("/tasks/claim", headers=AGENT_A)).json() == {"tasks": []}


async def test_bulk_create_all_or_nothing(client: httpx.AsyncClient) -> None:
    r = await client.post("/tasks/bulk", json={"tasks": [{"title": f"t{i}"} for i in range(50)]})
    assert r.status_code == 201
    tasks = r.json()["tasks"]
    assert [t["title"] for t in tasks] == [f"t{i}" for i in range(50)]
    bad = await client.post(
        "/tasks/bulk", json={"tasks": [{"title": "a"}, {"title": "b", "depends_on": [10**9]}]}
    )
    assert bad.status_code == 400
    assert (await client.get("/tasks")).json()["count"] == 50
    too_many = await client.post("/tasks/bulk", json={"tasks": [{"title": "x"}] * 1001})
    assert too_many.status_code == 400


async def test_orgs_and_projects(client: httpx.AsyncClient) -> None:
    r = await client.post("/orgs", json={"slug": "acme", "name": "Acme"})
    assert r.status_code == 201 and r.json()["organization"]["slug"] == "acme"
    assert (await client.post("/orgs", json={"slug": "acme", "name": "Again"})).status_code == 409
    assert (await client.post("/orgs", json={"slug": "Bad Slug"})).status_code == 400
    orgs = (await client.get("/orgs")).json()["organizations"]
    assert {o["slug"] for o in orgs} == {"default", "acme"}
    r = await client.post("/orgs/acme/projects", json={"slug": "web", "name": "Web"})
    assert r.status_code == 201 and r.json()["project"]["slug"] == "web"
    assert (await client.post("/orgs/nope/projects", json={"slug": "x"})).status_code == 404
    scoped = await client.post("/orgs/acme/projects/web/tasks", json={"title": "scoped"})
    assert scoped.status_code == 201 and scoped.json()["project"] == "acme/web"
    sid = scoped.json()["id"]
    plain = (await create(client))["id"]
    # a scoped route sees only its project; unscoped list spans all
    assert (await client.get(f"/orgs/acme/projects/web/tasks/{plain}")).status_code == 404
    assert (await client.get(f"/orgs/acme/projects/web/tasks/{sid}")).status_code == 200
    listed = (await client.get("/orgs/acme/projects/web/tasks")).json()
    assert [t["id"] for t in listed["tasks"]] == [sid]
    assert (await client.get("/tasks")).json()["count"] == 2
    assert (await client.get("/orgs/acme/projects/nope/tasks")).status_code == 404
    counts = (await client.get("/orgs/acme/projects", params={"counts": "true"})).json()
    assert counts["projects"][0]["pending_count"] == 1
    assert counts["projects"][0]["total_count"] == 1
    r = await client.patch("/orgs/acme/projects/web", json={"name": "Website"})
    assert r.json()["project"]["name"] == "Website"
    stats = (await client.get("/orgs/acme/projects/web/tasks/stats")).json()["stats"]
    assert stats["total"] == 1
    r = await client.patch("/orgs/acme", json={"name": "ACME Inc"})
    assert r.json()["organization"]["name"] == "ACME Inc"


async def test_scoped_routes_never_touch_another_projects_task(client: httpx.AsyncClient) -> None:
    await client.post("/orgs", json={"slug": "acme"})
    await client.post("/orgs/acme/projects", json={"slug": "web"})
    tid = (await create(client))["id"]
    claimed = (await client.post(f"/tasks/{tid}/claim", headers=AGENT_A)).json()
    scoped = f"/orgs/acme/projects/web/tasks/{tid}"
    for verb in ("complete", "fail", "claim", "release", "cancel"):
        r = await client.post(
            f"{scoped}/{verb}", json={"lease_token": claimed["lease_token"]}, headers=AGENT_A
        )
        assert r.status_code == 404, (verb, r.text)
    assert (await client.delete(scoped)).status_code == 404
    assert (await client.get(f"/tasks/{tid}")).json()["status"] == "in_progress"


async def test_a_rare_filter_finds_its_event_behind_many_others(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.post("/tasks/bulk", json={"tasks": [{"title": "noise"}] * 500})
    rare = (await create(client, channel="rare"))["id"]
    events = (await client.get("/events", params={"since": 0, "channel": "rare"})).json()
    assert [e["task_id"] for e in events["events"]] == [rare]


async def test_bulk_keeps_nested_payloads(client: httpx.AsyncClient) -> None:
    payloads = [{"z": [1, 2, {"k": [3]}], "a": None}, {}, {"list": [[1], [2, 3]]}]
    r = await client.post(
        "/tasks/bulk",
        json={"tasks": [{"title": f"p{i}", "payload": p} for i, p in enumerate(payloads)]},
    )
    assert [t["payload"] for t in r.json()["tasks"]] == payloads
    for task, payload in zip(r.json()["tasks"], payloads, strict=True):
        assert (await client.get(f"/tasks/{task['id']}")).json()["payload"] == payload
