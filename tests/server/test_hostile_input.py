"""Input found while attacking a real server: each was a 500 or was not stored as sent.

Every case is a 400 naming the field, or is kept exactly; nothing already stored changes.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from ats.jsontext import MAX_DEPTH

JSON_HDR = {"Content-Type": "application/json"}


FEED = '{"agent": "a", "type": "finding", "summary": "s"}'


def nested(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels


def deep(template: str, levels: int) -> str:
    return template.replace("DEEP", nested(levels))


async def count(client: httpx.AsyncClient) -> int:
    return int((await client.get("/tasks")).json()["count"])


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/tasks", deep('{"title": "x", "payload": {"a": DEEP}}', 950), "payload"),
        ("/tasks", deep('{"title": "x", "payload": {"a": DEEP}}', MAX_DEPTH), "payload"),
        ("/tasks", '{"title": "x", "payload": {"depends_on": ["\u00b2"]}}', "payload.depends_on"),
        ("/tasks", '{"title": "x", "payload": {"\\ud800": 1}}', "body"),
        ("/tasks", '{"title": "x", "payload": {"a": "\\udfff"}}', "body"),
        ("/tasks", '{"title": "x", "payload": {"a": NaN}}', "body"),
        ("/tasks", '{"title": "x", "payload": {"a": Infinity}}', "body"),
        ("/tasks", '{"title": "x", "payload": {"a": -Infinity}}', "body"),
        ("/tasks", '{"title": "x", "payload": {"a": 1e400}}', "body"),
        ("/tasks", '{"title": "x\\u0000y"}', "title"),
        ("/tasks", '{"title": "x", "payload": {"k\\u0000": 1}}', "payload"),
        ("/tasks/bulk", deep('{"tasks": [{"title": "x", "payload": DEEP}]}', 300), "tasks"),
        ("/feed/events", deep(FEED.replace("}", ', "metadata": {"a": DEEP}}'), 1000), "metadata"),
        ("/feed/events", '{"agent": "a\\u0000", "type": "finding", "summary": "s"}', "agent"),
        ("/feed/events", '{"agent": "a", "type": "finding", "summary": NaN}', "body"),
    ],
)
async def test_hostile_bodies_are_400_naming_the_field(
    client: httpx.AsyncClient, path: str, raw: str, field: str
) -> None:
    r = await client.post(path, content=raw.encode("utf-8", "surrogatepass"), headers=JSON_HDR)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "invalid" and body["field"] == field, body
    assert await count(client) == 0
    assert (await client.get("/feed/events")).json() == []


async def test_depth_just_under_the_limit_is_kept(client: httpx.AsyncClient) -> None:
    payload = json.loads(nested(MAX_DEPTH - 2))
    r = await client.post("/tasks", json={"title": "deep", "payload": {"a": payload}})
    assert r.status_code == 201, r.text
    got = (await client.get(f"/tasks/{r.json()['id']}")).json()
    assert got["payload"] == {"a": payload}


@pytest.mark.parametrize(
    "query",
    [
        "created_after=\u00b2",
        "updated_after=\u00b2\u00b3",
        "project_id=\u00b2",
        "project_id=%00",
        "offset=99999999999999999999",
        "created_after=99999999999999999999",
    ],
)
async def test_unicode_digits_and_huge_numbers_in_queries(
    client: httpx.AsyncClient, query: str
) -> None:
    r = await client.get(f"/tasks?{query}")
    assert r.status_code == 400, r.text
    assert r.json()["field"] == query.partition("=")[0]


@pytest.mark.parametrize("query", ["since=-1", "since=99999999999999999999", "task_id=0"])
async def test_event_log_queries(client: httpx.AsyncClient, query: str) -> None:
    r = await client.get(f"/events?{query}")
    assert r.status_code == 400, r.text
    assert r.json()["field"] == query.partition("=")[0]


async def test_integers_beyond_64_bits_are_kept_exactly(client: httpx.AsyncClient) -> None:
    huge = 2**70 + 1  # not a float: a float would round it
    raw = '{"title": "big", "payload": {"n": N, "m": -N, "f": 0.5}}'.replace("N", str(huge))
    r = await client.post("/tasks", content=raw, headers=JSON_HDR)
    assert r.status_code == 201, r.text
    assert f'"n":{huge}' in r.text
    tid = r.json()["id"]
    got = await client.get(f"/tasks/{tid}")
    assert f'"n":{huge}' in got.text and f'"m":-{huge}' in got.text
    listed = await client.get("/tasks")
    assert f'"n":{huge}' in listed.text
    events = await client.get("/events?since=0")
    assert f'"n":{huge}' in events.text


async def test_large_integers_in_feed_metadata_are_kept(client: httpx.AsyncClient) -> None:
    huge = 10**30 + 7
    raw = FEED.replace("}", f', "metadata": {{"n": {huge}}}}}')
    r = await client.post("/feed/events", content=raw, headers=JSON_HDR)
    assert r.status_code == 201, r.text
    assert f'"n":{huge}' in (await client.get("/feed/events")).text
    exported = await client.get("/feed/export")
    assert f'"n":{huge}' in exported.text


async def test_sse_last_event_id_with_unicode_digits(client: httpx.AsyncClient) -> None:
    r = await client.get("/events/stream", headers={"Last-Event-ID": "\u00b2".encode()})
    assert r.status_code == 400 and r.json()["field"] == "Last-Event-ID"


async def test_sse_since_beyond_the_log_is_refused(client: httpx.AsyncClient) -> None:
    await client.post("/tasks", json={"title": "one"})
    r = await client.get("/events/stream?since=1000000")
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "since" and "beyond the newest event" in r.json()["error"]
    r = await client.get("/events/stream", headers={"Last-Event-ID": "5000"})
    assert r.status_code == 400 and r.json()["field"] == "Last-Event-ID"


async def test_feed_stream_since_in_the_future_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.get("/feed/stream?since=2999-01-01T00:00:00Z")
    assert r.status_code == 400 and r.json()["field"] == "since", r.text


async def test_renaming_the_default_org_keeps_unscoped_routes(client: httpx.AsyncClient) -> None:
    first = await client.post("/tasks", json={"title": "before"})
    assert first.status_code == 201
    r = await client.patch("/orgs/default", json={"slug": "acme"})
    assert r.status_code == 200, r.text
    created = await client.post("/tasks", json={"title": "after"})
    assert created.status_code == 201, created.text
    assert created.json()["project"] == "acme/main"
    listed = await client.get("/tasks")
    assert listed.status_code == 200 and listed.json()["count"] == 2
    assert (await client.post("/feed/events", content=FEED)).status_code == 201
    assert (await client.get("/tasks/stats")).status_code == 200
    assert (await client.get("/orgs/acme/projects/main/tasks")).json()["count"] == 2


async def test_import_is_parsed_off_the_event_loop(client: httpx.AsyncClient) -> None:
    lines = b"".join(
        b'{"id": "01J9ZQ4H3M8W0C2V5X7Y9B%04d", "agent": "a", "type": "finding", '
        b'"summary": "s", "timestamp": "2026-01-01T00:00:00.000Z"}\n' % i
        for i in range(2000)
    )
    health = asyncio.ensure_future(client.get("/health"))
    r = await client.post("/feed/import", content=lines)
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 2000
    assert (await health).status_code == 200
