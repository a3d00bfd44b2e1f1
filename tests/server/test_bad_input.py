"""Bad input: a 4xx JSON error naming the problem, never a 500, nothing stored changed."""

from __future__ import annotations

import httpx
import pytest

from tests.server.test_tasks import create

JSON_HDR = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 501}, "title"),
        ({}, "title"),
        ({"title": 5}, "title"),
        ({"title": "t", "priority": 0}, "priority"),
        ({"title": "t", "priority": 11}, "priority"),
        ({"title": "t", "priority": "high"}, "priority"),
        ({"title": "t", "priority": 5.5}, "priority"),
        ({"title": "t", "payload": [1, 2]}, "payload"),
        ({"title": "t", "payload": "text"}, "payload"),
        ({"title": "t", "channel": ""}, "channel"),
        ({"title": "t", "depends_on": ["x"]}, "depends_on"),
        ({"title": "t", "max_attempts": 0}, "max_attempts"),
    ],
)
async def test_create_refusals_name_the_field(
    client: httpx.AsyncClient, body: dict, field: str
) -> None:
    r = await client.post("/tasks", json=body)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]
    assert (await client.get("/tasks")).json()["count"] == 0


@pytest.mark.parametrize("raw", [b"{bad", b"null", b"[1,2]", b'"text"', b"", b'{"title": "x",}'])
async def test_malformed_bodies(client: httpx.AsyncClient, raw: bytes) -> None:
    r = await client.post("/tasks", content=raw, headers=JSON_HDR)
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["error"], str)


async def test_two_mib_payload_is_413_and_nothing_changes(client: httpx.AsyncClient) -> None:
    tid = (await create(client, title="keep"))["id"]
    big = {"title": "t", "payload": {"blob": "x" * (2 * 1024 * 1024)}}
    r = await client.post("/tasks", json=big)
    assert r.status_code == 413 and "too large" in r.json()["error"]
    r = await client.patch(f"/tasks/{tid}", json={"payload": {"blob": "x" * (2 * 1024 * 1024)}})
    assert r.status_code == 413
    assert (await client.get(f"/tasks/{tid}")).json()["payload"] == {}


async def test_bad_ids_and_unknown_routes(client: httpx.AsyncClient) -> None:
    for path in ("/tasks/abc", "/tasks/-1", "/tasks/0", "/tasks/99999999999999999999"):
        r = await client.get(path)
        assert r.status_code in (400, 404), (path, r.status_code)
        assert "error" in r.json()
    assert (await client.get("/tasks/424242")).status_code == 404
    assert (await client.post("/tasks/424242/claim")).status_code == 404
    nf = await client.get("/no/such/route")
    assert nf.status_code == 404 and "error" in nf.json()
    na = await client.put("/tasks")
    assert na.status_code == 405 and "error" in na.json()


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"limit": -1},
        {"limit": 0},
        {"limit": "many"},
        {"offset": -5},
        {"priority": 11},
        {"sort_by": "password"},
        {"sort_dir": "up"},
        {"created_after": "yesterday-ish"},
    ],
)
async def test_bad_list_queries(client: httpx.AsyncClient, params: dict) -> None:
    r = await client.get("/tasks", params=params)
    assert r.status_code == 400, r.text
    assert next(iter(params)) in r.json()["error"]


async def test_bad_transition_bodies(client: httpx.AsyncClient) -> None:
    tid = (await create(client))["id"]
    for body in ({"lease_duration": -5}, {"lease_duration": 0}, {"lease_duration": "long"}):
        r = await client.post(f"/tasks/{tid}/claim", json=body)
        assert r.status_code == 400 and "lease_duration" in r.json()["error"]
    r = await client.post("/tasks/claim", json={"limit": 500})
    assert r.status_code == 400 and "limit" in r.json()["error"]
    r = await client.patch(f"/tasks/{tid}", json={"status": "finished"})
    assert r.status_code == 400 and "status" in r.json()["error"]
    r = await client.patch(f"/tasks/{tid}", json={"priority": None})
    assert r.status_code == 400 and "priority" in r.json()["error"]
    r = await client.post(f"/tasks/{tid}/messages", json={"parts": []})
    assert r.status_code == 400 and "parts" in r.json()["error"]
    r = await client.post("/tasks/bulk", json={"tasks": [{"title": "ok"}, {"title": ""}]})
    assert r.status_code == 400
    task = (await client.get(f"/tasks/{tid}")).json()
    assert task["status"] == "pending" and task["attempts"] == 0
    assert (await client.get("/tasks")).json()["count"] == 1


async def test_bad_actor_type(client: httpx.AsyncClient) -> None:
    r = await client.post("/tasks", json={"title": "t"}, headers={"X-Actor-Type": "robot"})
    assert r.status_code == 400 and "X-Actor-Type" in r.json()["error"]


async def test_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]  # an async generator body
        yield b'{"title": "t", "payload": {"blob": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}}'

    r = await client.post("/tasks", content=chunks(), headers=JSON_HDR)
    assert r.status_code == 413 and "too large" in r.json()["error"]
    assert (await client.get("/tasks")).json()["count"] == 0


async def test_integers_beyond_64_bits_round_trip(client: httpx.AsyncClient) -> None:
    big = 2**70
    r = await client.post("/tasks", json={"title": "big", "payload": {"n": big}})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert (await client.get(f"/tasks/{tid}")).json()["payload"] == {"n": big}
    r = await client.post(f"/tasks/{tid}/messages", json={"content": {"n": -big}, "type": "data"})
    assert r.status_code == 201 and r.json()["parts"][0]["content"] == {"n": -big}
    r = await client.post(f"/tasks/{tid}/complete", json={"outputs": [big]})
    assert r.status_code == 200 and r.json()["outputs"] == [big]


async def test_openapi_declares_scope_parameters(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/orgs/{org}/projects/{project}/tasks/{task_id}"]["get"]
    assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == {
        "org", "project", "task_id",
    }  # fmt: skip
