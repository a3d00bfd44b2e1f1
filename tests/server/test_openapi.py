"""The OpenAPI document says what the server does, and /docs works with no internet.

The document tests read ``/openapi.json`` from an app that never opens its database; the live
test compares real answers, on both databases, with the schemas the document publishes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from ats.server.app import create_app

SWAGGER = Path(__file__).parents[2] / "src" / "ats" / "server" / "static" / "swagger-ui"
METHODS = ("get", "put", "post", "delete", "patch")
ACTOR_HEADERS = {"X-Actor-Type", "X-Actor-ID", "X-Actor-Name"}
AGENT = {"X-Actor-Type": "agent", "X-Actor-ID": "worker-1", "X-Actor-Name": "Worker 1"}
TASK_QUERY = {
    "status", "type", "channel", "assignee_id", "priority", "min_priority", "max_priority",
    "search", "created_after", "updated_after", "sort_by", "sort_dir", "limit", "offset",
    "project_id",
}  # fmt: skip
TRANSITIONS = ("claim", "complete", "fail", "reject", "reopen", "cancel", "release")


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app without its lifespan: enough for the document and the docs page."""
    app = create_app(f"sqlite:///{tmp_path}/unused.db")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c


@pytest.fixture
async def document(bare: httpx.AsyncClient) -> dict[str, Any]:
    response = await bare.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, item[method])
        for path, item in doc["paths"].items()
        for method in METHODS
        if method in item
    ]


def success(op: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(status, answer)] = [(s, a) for s, a in op["responses"].items() if s.startswith("2")]
    return status, answer


def test_every_operation_documents_a_success_schema(document: dict[str, Any]) -> None:
    ops = operations(document)
    assert len(ops) > 60
    for path, method, op in ops:
        _, answer = success(op)
        [(media_type, body)] = answer["content"].items()
        assert body["schema"], f"{method.upper()} {path}: empty {media_type} schema"


def test_errors_are_documented_as_the_error_model_and_never_422(
    document: dict[str, Any],
) -> None:
    assert "422" not in str([op["responses"].keys() for _, _, op in operations(document)])
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"error", "code"} <= set(schemas["Error"]["required"])
    for path, method, op in operations(document):
        errors = {s: a for s, a in op["responses"].items() if int(s) >= 400}
        where = f"{method.upper()} {path}"
        assert "503" in errors, where
        for answer in errors.values():
            assert answer["description"], where
            assert answer["content"] == {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
            }, where
        if "requestBody" in op:
            assert {"400", "413"} <= errors.keys(), where
        if "{" in path:
            assert "404" in errors, where
        action = path.rsplit("/", 1)[-1]
        if path.endswith("/tasks/{task_id}/" + action) and action in TRANSITIONS:
            assert "409" in errors, where


def test_actor_headers_are_documented_where_the_actor_is_read(document: dict[str, Any]) -> None:
    for path, method, op in operations(document):
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        reads_actor = re.search(r"/(tasks|feed|events)(/|$)", path) is not None
        assert (headers == ACTOR_HEADERS) is reads_actor, f"{method.upper()} {path}"
    [kind] = [
        p for p in document["paths"]["/tasks"]["post"]["parameters"] if p["name"] == "X-Actor-Type"
    ]
    assert kind["schema"]["enum"] == ["human", "agent", "system", ""]  # "": as if absent


def test_every_parameter_is_described(document: dict[str, Any]) -> None:
    for path, method, op in operations(document):
        for param in op.get("parameters", []):
            assert param.get("description"), f"{method.upper()} {path}: {param['name']}"
            assert {"type": "null"} not in param["schema"].get("anyOf", [])
    for path in ("/tasks", "/orgs/{org}/projects/{project}/tasks"):
        params = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
        assert params.keys() >= TASK_QUERY
        assert params["priority"]["schema"]["maximum"] == 10
        assert params["limit"]["schema"]["default"] == 50
        assert "priority" in params["sort_by"]["schema"]["enum"]


def test_hand_parsed_bodies_are_documented(document: dict[str, Any]) -> None:
    publish = document["paths"]["/feed/events"]["post"]["requestBody"]
    ref = publish["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {"agent", "type", "summary"}
    upload = document["paths"]["/feed/import"]["post"]["requestBody"]
    assert "application/x-ndjson" in upload["content"]
    stream = document["paths"]["/events/stream"]["get"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]


async def test_docs_page_loads_only_local_assets(bare: httpx.AsyncClient) -> None:
    page = await bare.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?'([^']+)'""", page.text)
    found = [a or b for a, b in urls]
    assert len(found) == 4  # script, stylesheet, icon, the document
    assert "/openapi.json" in found
    for url in found:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = await bare.get(url)
        assert answer.status_code == 200, url
        assert len(answer.content) > 100, url
    assert "http://" not in page.text and "https://" not in page.text
    assert (await bare.get("/redoc")).status_code == 404


def test_vendored_assets_match_their_recorded_checksums() -> None:
    readme = (SWAGGER / "README.md").read_text()
    recorded = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    )
    assert "swagger-ui-bundle.js" in recorded
    for name, digest in recorded.items():
        assert hashlib.sha256((SWAGGER / name).read_bytes()).hexdigest() == digest, name
    version = (SWAGGER / "VERSION").read_text().strip()
    assert f"swagger-ui-dist {version}" in readme


class Document:
    """Validates live answers with the schema the document gives for that status."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def check(self, response: httpx.Response, path: str, method: str) -> Any:
        op = self.doc["paths"][path][method]
        answer = op["responses"].get(str(response.status_code))
        assert answer is not None, f"{method.upper()} {path}: {response.status_code} undocumented"
        schema = answer["content"]["application/json"]["schema"]
        body = response.json()
        # Local "#/components/…" references resolve against this root.
        validator = jsonschema.Draft202012Validator(
            {**schema, "components": self.doc["components"]}
        )
        validator.validate(body)
        return body


async def test_live_answers_match_the_document(client: httpx.AsyncClient) -> None:
    doc = Document((await client.get("/openapi.json")).json())
    created = doc.check(
        await client.post(
            "/tasks", json={"title": "write docs", "payload": {"k": [1]}}, headers=AGENT
        ),
        "/tasks",
        "post",
    )
    tid = created["id"]
    doc.check(
        await client.post(
            f"/tasks/{tid}/messages", json={"parts": [{"type": "text", "content": "hi"}]}
        ),
        "/tasks/{task_id}/messages",
        "post",
    )
    full = doc.check(await client.get(f"/tasks/{tid}"), "/tasks/{task_id}", "get")
    assert len(full["messages"]) == 1
    doc.check(await client.get("/tasks", params={"status": "pending"}), "/tasks", "get")
    claimed = doc.check(
        await client.post(f"/tasks/{tid}/claim", json={}, headers=AGENT),
        "/tasks/{task_id}/claim",
        "post",
    )
    assert claimed["lease_expires"] is not None
    many = doc.check(
        await client.post(
            "/tasks/complete",
            json={"tasks": [{"id": tid, "outputs": {"ok": True}}, {"id": 999_999}]},
            headers=AGENT,
        ),
        "/tasks/complete",
        "post",
    )
    assert [t["id"] for t in many["tasks"]] == [tid]
    assert [(e["id"], e["code"]) for e in many["errors"]] == [(999_999, "not_found")]
    events = doc.check(await client.get("/events"), "/events", "get")
    assert {e["type"] for e in events["events"]} >= {"task.created", "task.message"}
    doc.check(await client.get("/tasks/stats"), "/tasks/stats", "get")
    doc.check(await client.get("/events/latest"), "/events/latest", "get")

    published = doc.check(
        await client.post(
            "/feed/events",
            json={"agent": "a1", "type": "finding", "summary": "s", "metadata": {"n": 1}},
        ),
        "/feed/events",
        "post",
    )
    doc.check(await client.get("/feed/events"), "/feed/events", "get")
    doc.check(await client.get(f"/feed/events/{published['id']}"), "/feed/events/{event_id}", "get")
    doc.check(await client.get("/feed/stats"), "/feed/stats", "get")

    doc.check(await client.get("/health"), "/health", "get")
    doc.check(
        await client.get("/orgs/default/projects", params={"counts": "true"}),
        "/orgs/{org}/projects",
        "get",
    )

    invalid = doc.check(await client.get("/tasks", params={"priority": 11}), "/tasks", "get")
    assert invalid["field"] == "priority"
    missing = await client.get("/tasks/999999")
    assert doc.check(missing, "/tasks/{task_id}", "get")["code"] == "not_found"
    refused = await client.post(f"/tasks/{tid}/claim", json={}, headers=AGENT)
    assert doc.check(refused, "/tasks/{task_id}/claim", "post")["code"] == "conflict"
    doc.check(await client.delete(f"/tasks/{tid}"), "/tasks/{task_id}", "delete")
