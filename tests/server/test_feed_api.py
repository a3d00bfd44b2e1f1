"""The activity feed API (SPEC §7) on both backends: the skill's requests, bad input, import."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from ats.server.app import create_app


async def publish(client: httpx.AsyncClient, agent: str, type: str = "finding", **more: Any) -> Any:
    body = {"agent": agent, "type": type, "summary": more.pop("summary", f"{agent} did x"), **more}
    r = await client.post("/feed/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_publish_shape_and_reads(client: httpx.AsyncClient) -> None:
    e = await publish(client, "claude", "finding", detail="in a.py", metadata={"line": 3})
    assert list(e) == ["id", "agent", "type", "summary", "detail", "metadata", "timestamp"]
    assert len(e["id"]) == 26 and e["timestamp"].endswith("Z")
    bare = await publish(client, "gpt", "question")
    assert "detail" not in bare and "metadata" not in bare
    assert (await client.get(f"/feed/events/{e['id']}")).json() == e
    missing = await client.get("/feed/events/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert missing.status_code == 404 and missing.json()["error"] == "Event not found"
    listed = (await client.get("/feed/events")).json()
    assert [x["id"] for x in listed] == [e["id"], bare["id"]]  # a bare array, oldest first
    assert (await client.get("/feed/events", params={"agent": "gpt"})).json() == [bare]
    assert (await client.get("/feed/events", params={"type": "finding"})).json() == [e]
    stats = (await client.get("/feed/stats")).json()
    assert stats["total"] == 2 and stats["byAgent"] == {"claude": 1, "gpt": 1}
    assert stats["byType"] == {"finding": 1, "question": 1}
    assert stats["latestPerAgent"]["gpt"]["id"] == bare["id"]
    assert (await client.delete("/feed/events")).json() == {"ok": True}
    assert (await client.get("/feed/events")).json() == []
    assert (await client.get("/feed/stats")).json()["total"] == 0


async def test_since_and_limit_never_lose_events(client: httpx.AsyncClient) -> None:
    ids = [(await publish(client, "a", summary=f"s{i}"))["id"] for i in range(12)]
    last5 = (await client.get("/feed/events", params={"limit": 5})).json()
    assert [x["id"] for x in last5] == ids[-5:]  # without since: the LAST limit
    first5 = (await client.get("/feed/events", params={"since": ids[2], "limit": 5})).json()
    assert [x["id"] for x in first5] == ids[3:8]  # with since: the FIRST limit after it
    polled: list[str] = []
    last = ids[0]
    while True:  # the skill's polling loop
        page = (await client.get("/feed/events", params={"since": last, "limit": 4})).json()
        if not page:
            break
        polled += [x["id"] for x in page]
        last = page[-1]["id"]
    assert polled == ids[1:]
    one = await client.get("/feed/events", params={"limit": 0})  # clamped to 1
    assert len(one.json()) == 1
    many = await client.get("/feed/events", params={"limit": 5000})  # clamped to 1000
    assert len(many.json()) == 12
    stamp = (await client.get(f"/feed/events/{ids[5]}")).json()["timestamp"]
    after_time = (await client.get("/feed/events", params={"since": "2000-01-01T00:00:00Z"})).json()
    assert len(after_time) == 12
    later = (await client.get("/feed/events", params={"since": stamp, "limit": 1000})).json()
    assert all(x["timestamp"] > stamp for x in later)  # an ISO time is exclusive too
    bad = await client.get("/feed/events", params={"since": "yesterday-ish"})
    assert bad.status_code == 400 and "since" in bad.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"null", "body"),
        (b"[1, 2]", "body"),
        (b'"a string"', "body"),
        (b'{"type": "finding", "summary": "x"}', "agent"),
        (b'{"agent": 5, "type": "finding", "summary": "x"}', "agent"),
        (b'{"agent": "a", "type": "bogus", "summary": "x"}', "type"),
        (b'{"agent": "a", "type": "finding"}', "summary"),
        (b'{"agent": "a", "type": "finding", "summary": 7}', "summary"),
        (b'{"agent": "a", "type": "finding", "summary": "x", "detail": 5}', "detail"),
        (b'{"agent": "a", "type": "finding", "summary": "x", "metadata": [1]}', "metadata"),
    ],
)
async def test_bad_bodies_name_the_field(
    client: httpx.AsyncClient, body: bytes, field: str
) -> None:
    before = await publish(client, "keeper")
    r = await client.post("/feed/events", content=body)
    assert r.status_code == 400, r.text
    answer = r.json()
    assert (answer["field"] == field and field in answer["error"].lower()) or field == "body"
    if field == "type":
        assert "task_started" in answer["error"] and "custom" in answer["error"]
    assert (await client.get("/feed/events")).json() == [before]  # nothing else stored


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    big = orjson.dumps({"agent": "a", "type": "custom", "summary": "x" * (2 * 1024 * 1024)})
    r = await client.post("/feed/events", content=big)
    assert r.status_code == 413 and "error" in r.json()


async def test_scoped_routes_see_their_project(client: httpx.AsyncClient) -> None:
    await client.post("/orgs", json={"slug": "acme", "name": "Acme"})
    await client.post("/orgs/acme/projects", json={"slug": "web", "name": "Web"})
    web = "/orgs/acme/projects/web"
    mine = (
        await client.post(
            f"{web}/feed/events", json={"agent": "w", "type": "custom", "summary": "web"}
        )
    ).json()
    other = await publish(client, "d")  # unscoped: default/main
    assert [x["id"] for x in (await client.get(f"{web}/feed/events")).json()] == [mine["id"]]
    both = [x["id"] for x in (await client.get("/feed/events")).json()]
    assert both == [mine["id"], other["id"]]  # unscoped reads span every project
    assert (await client.get(f"{web}/feed/events/{other['id']}")).status_code == 404
    assert (await client.get(f"{web}/feed/stats")).json()["total"] == 1
    assert (await client.get("/orgs/acme/projects/nope/feed/events")).status_code == 404


async def test_export_then_import_round_trip(client: httpx.AsyncClient) -> None:
    made = [await publish(client, f"a{i % 2}", summary=f"s{i}") for i in range(5)]
    exported = (await client.get("/feed/export")).content
    lines = exported.decode().splitlines()
    assert [orjson.loads(x) for x in lines] == made
    await client.delete("/feed/events")
    headers = {"Content-Type": "application/x-ndjson"}
    r = await client.post("/feed/import", content=exported, headers=headers)
    assert r.status_code == 201 and r.json() == {"imported": 5, "skipped": 0}
    assert (await client.get("/feed/events")).json() == made
    again = await client.post("/feed/import", content=exported, headers=headers)
    assert again.json() == {"imported": 0, "skipped": 5}
    broken = exported + b'{"agent": "x", "type": "nope", "summary": "y"}\n'
    r = await client.post("/feed/import", content=broken, headers=headers)
    assert r.status_code == 400 and r.json()["line"] == 6 and "line 6" in r.json()["error"]
    fresh = (await publish(client, "after"))["id"]
    assert fresh > made[-1]["id"]


async def test_task_lifecycle_is_mirrored(client: httpx.AsyncClient) -> None:
    me = {"X-Actor-Type": "agent", "X-Actor-ID": "worker-7", "X-Actor-Name": "W7"}
    a = (await client.post("/tasks", json={"title": "mirror me"})).json()
    b = (await client.post("/tasks", json={"title": "fail me"})).json()
    claimed = (await client.post(f"/tasks/{a['id']}/claim", headers=me)).json()
    await client.post(
        f"/tasks/{a['id']}/complete", json={"lease_token": claimed["lease_token"]}, headers=me
    )
    await client.post(f"/tasks/{b['id']}/claim", headers=me)
    await client.post(f"/tasks/{b['id']}/fail", json={"reason": "no disk"}, headers=me)
    for _ in range(100):
        feed = (await client.get("/feed/events", params={"agent": "worker-7"})).json()
        if len(feed) == 4:
            break
        await asyncio.sleep(0.02)
    assert [(x["type"], x["metadata"]["task_id"]) for x in feed] == [
        ("task_started", a["id"]),
        ("task_completed", a["id"]),
        ("task_started", b["id"]),
        ("task_failed", b["id"]),
    ]
    assert feed[3]["detail"] == "no disk" and "fail me" in feed[3]["summary"]


async def test_retention_and_mirror_off(db_url: str) -> None:
    app = create_app(db_url, feed_keep=10, feed_mirror=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            made = [await publish(c, "r", summary=f"s{i}") for i in range(25)]
            for _ in range(50):  # retention runs in the background, about once a second
                kept = (await c.get("/feed/events", params={"limit": 1000})).json()
                if len(kept) == 10:
                    break
                await asyncio.sleep(0.1)
            assert [x["id"] for x in kept] == [x["id"] for x in made[-10:]]
            assert (await c.get("/feed/stats")).json()["total"] == 10
            task = (await c.post("/tasks", json={"title": "t"})).json()
            await c.post(f"/tasks/{task['id']}/claim")
            await asyncio.sleep(0.1)
            assert all(x["agent"] == "r" for x in (await c.get("/feed/events")).json())
