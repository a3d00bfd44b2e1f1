"""What the fuzz tier (tests/fuzz) found, each pinned on both backends.

Schemathesis holds the server to its own /openapi.json: a request the document calls valid must
not be refused, one it calls invalid must be, and a 405 must name the path's methods.
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest

from tests.server.test_tasks import AGENT_A, create


async def _schema(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    document = (await client.get("/openapi.json")).json()
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


def _valid(schema: dict[str, Any], instance: Any) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(instance)


async def test_a_long_actor_name_alone_is_refused(client: httpx.AsyncClient) -> None:
    # Without X-Actor-ID / X-Actor-Type the caller is anonymous; the name's limit still holds.
    r = await client.get("/tasks", headers={"X-Actor-Name": "n" * 201})
    assert r.status_code == 400, r.text
    assert "X-Actor" in r.json()["error"]


async def test_an_empty_actor_type_is_documented_as_absent(client: httpx.AsyncClient) -> None:
    assert (await client.get("/tasks", headers={"X-Actor-Type": ""})).status_code == 200
    document = (await client.get("/openapi.json")).json()
    header = next(
        p for p in document["paths"]["/tasks"]["get"]["parameters"] if p["name"] == "X-Actor-Type"
    )
    assert "" in header["schema"]["enum"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/tasks/1", "DELETE, GET, PATCH"),
        ("PUT", "/orgs/default/projects/main/tasks/1/messages", "GET, POST"),
        ("OPTIONS", "/orgs", "GET, POST"),
    ],
)
async def test_405_allows_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    r = await client.request(method, path)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert r.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/tasks/claim"),
        ("GET", "/tasks/bulk"),
        ("DELETE", "/orgs/default/projects/main/tasks/complete"),
    ],
)
async def test_a_literal_path_is_not_a_task_id(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    # Not "task_id: must be an integer" (400) from the /tasks/{task_id} routes: a wrong method.
    r = await client.request(method, path, json={})
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == "POST"


async def test_a_bad_task_id_is_still_400(client: httpx.AsyncClient) -> None:
    r = await client.get("/tasks/abc")
    assert r.status_code == 400
    assert r.json()["field"] == "task_id"


async def test_integral_floats_are_integers(client: httpx.AsyncClient) -> None:
    # JSON has one number type, and JSON Schema takes 60000.0 as an integer.
    task = await create(client, priority=7.0, max_attempts=3.0)
    assert task["priority"] == 7
    r = await client.post(
        f"/tasks/{task['id']}/claim", json={"lease_duration": 60000.0}, headers=AGENT_A
    )
    assert r.status_code == 200, r.text
    for body in ({"lease_duration": 1.5}, {"lease_duration": 1e300}, {"lease_duration": True}):
        r = await client.post(f"/tasks/{task['id']}/claim", json=body, headers=AGENT_A)
        assert r.status_code == 400, (body, r.text)


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ({"title": "t"}, True),
        ({"title": ""}, False),
        ({"title": " \t"}, False),
    ],
)
async def test_the_document_says_a_title_is_not_blank(
    client: httpx.AsyncClient, body: dict[str, Any], accepted: bool
) -> None:
    assert _valid(await _schema(client, "CreateTask"), body) is accepted
    r = await client.post("/tasks", json=body)
    assert (r.status_code == 201) is accepted, r.text


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ({"parts": [{"type": "text", "content": "hi"}]}, True),
        ({"parts": [{"content": "hi"}]}, True),
        ({"parts": [{"type": "data", "content": {"k": 1}}]}, True),
        ({"content": "hi"}, True),
        ({"content": {"k": 1}, "type": "data"}, True),
        ({"parts": [{"content": None}]}, False),
        ({"parts": [{"type": "text", "content": 5}]}, False),
        ({"content": 5}, False),
        ({"content": None}, False),
        ({}, False),
    ],
)
async def test_the_document_says_what_a_message_needs(
    client: httpx.AsyncClient, body: dict[str, Any], accepted: bool
) -> None:
    assert _valid(await _schema(client, "MessageBody"), body) is accepted
    task = await create(client)
    r = await client.post(f"/tasks/{task['id']}/messages", json=body)
    assert (r.status_code == 201) is accepted, r.text


@pytest.mark.parametrize(
    ("limit", "status"),
    [("5", 200), (" 5 ", 200), ("", 200), ("-3", 200), ("1_0", 400), ("١٢", 400), ("-", 400)],
)
async def test_feed_limit_is_ascii_digits(
    client: httpx.AsyncClient, limit: str, status: int
) -> None:
    r = await client.get("/feed/events", params={"limit": limit})
    assert r.status_code == status, r.text
    document = (await client.get("/openapi.json")).json()
    param = next(
        p for p in document["paths"]["/feed/events"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert _valid(param["schema"], limit) is (status == 200)


@pytest.mark.parametrize("field", ["title", "priority", "status", "type", "channel", "payload"])
async def test_the_document_says_an_update_is_never_null(
    client: httpx.AsyncClient, field: str
) -> None:
    assert not _valid(await _schema(client, "UpdateTask"), {field: None})
    task = await create(client)
    r = await client.patch(f"/tasks/{task['id']}", json={field: None})
    assert r.status_code == 400, r.text


async def test_a_dependencies_only_update_answers_the_bare_task(
    client: httpx.AsyncClient,
) -> None:
    # The document's Task has no "messages"; this PATCH answered the task with its messages.
    task = await create(client)
    await client.post(f"/tasks/{task['id']}/messages", json={"content": "hi"})
    r = await client.patch(f"/tasks/{task['id']}", json={"depends_on": []})
    assert r.status_code == 200, r.text
    assert "messages" not in r.json()
    assert _valid(await _schema(client, "Task"), r.json())


async def test_an_empty_feed_import_is_documented(client: httpx.AsyncClient) -> None:
    r = await client.post("/feed/import", content=b"")
    assert r.status_code == 201, r.text
    assert r.json() == {"imported": 0, "skipped": 0}
    document = (await client.get("/openapi.json")).json()
    assert document["paths"]["/feed/import"]["post"]["requestBody"]["required"] is False


async def test_the_document_describes_each_server_sent_event(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path in ("/events/stream", "/feed/stream"):
        content = document["paths"][path]["get"]["responses"]["200"]["content"]
        event = content["text/event-stream"]["schema"]
        assert _valid(event, {"id": "1", "event": "task.created", "data": "{}"}), path
        assert not _valid(event, "id: 1\nevent: task.created\ndata: {}\n\n"), path


async def test_an_empty_feed_type_filter_is_documented_as_absent(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/feed/events", params={"type": ""})).status_code == 200
    document = (await client.get("/openapi.json")).json()
    for path in ("/feed/events", "/feed/stream"):
        [param] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "type"]
        assert "" in param["schema"]["enum"], path
