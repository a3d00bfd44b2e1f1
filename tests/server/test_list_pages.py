"""GET /tasks at scale, on both backends: keyset pages (``next`` / ``cursor``), capped counts and
search served by an index with the meaning the LIKE scan had."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

AGENT = {"X-Actor-Type": "agent", "X-Actor-ID": "agent-a", "X-Actor-Name": "Agent A"}


async def bulk(client: httpx.AsyncClient, bodies: list[dict[str, object]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(bodies), 1000):
        r = await client.post("/tasks/bulk", json={"tasks": bodies[start : start + 1000]})
        assert r.status_code == 201, r.text
        ids += [t["id"] for t in r.json()["tasks"]]
    return ids


async def walk(client: httpx.AsyncClient, params: dict[str, object]) -> list[int]:
    seen: list[int] = []
    r = await client.get("/tasks", params=params)
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [t["id"] for t in body["tasks"]]
        if "next" not in body:
            return seen
        r = await client.get("/tasks", params={**params, "cursor": body["next"]})


@pytest.mark.parametrize("sort_by", ["created_at", "updated_at", "priority", "title", "id"])
@pytest.mark.parametrize("sort_dir", ["desc", "asc"])
async def test_a_cursor_walk_visits_every_task_once_while_others_are_created(
    client: httpx.AsyncClient, sort_by: str, sort_dir: str
) -> None:
    # Few distinct priorities and titles: most pages end inside a run of equal sort values.
    old = await bulk(
        client, [{"title": f"t{i % 7}", "priority": 1 + i % 3, "channel": "w"} for i in range(90)]
    )
    await bulk(client, [{"title": "elsewhere", "channel": "other"} for _ in range(20)])
    params = {"channel": "w", "sort_by": sort_by, "sort_dir": sort_dir, "limit": 7, "status": "all"}
    seen: list[int] = []
    made = 0

    async def creator() -> None:
        # Tasks that sort before, inside and after the walk's position, between its requests.
        nonlocal made
        while made < 1000:
            await bulk(
                client, [{"title": f"t{made % 9}", "priority": 1 + made % 3, "channel": "w"}]
            )
            made += 1
            await asyncio.sleep(0.001)

    async def walker() -> None:
        r = await client.get("/tasks", params=params)
        while True:
            assert r.status_code == 200, r.text
            body = r.json()
            seen.extend(t["id"] for t in body["tasks"])
            if "next" not in body:
                return
            await asyncio.sleep(0.003)  # let the creator in
            r = await client.get("/tasks", params={**params, "cursor": body["next"]})

    making = asyncio.create_task(creator())
    try:
        await walker()
    finally:
        making.cancel()
    assert made > 0
    assert len(seen) == len(set(seen)), "a task came twice"
    assert set(old) <= set(seen), "a task was skipped"
    everything = await client.get("/tasks", params={**params, "limit": 1000})
    expected = [t["id"] for t in everything.json()["tasks"] if t["id"] in set(seen)]
    assert seen == expected, "pages are not in the requested order"


async def test_next_only_when_more_and_offset_still_works(client: httpx.AsyncClient) -> None:
    ids = await bulk(client, [{"title": f"n{i}"} for i in range(5)])
    first = (await client.get("/tasks", params={"limit": 2})).json()
    assert [t["id"] for t in first["tasks"]] == ids[::-1][:2]
    assert first["count"] == 5 and "count_capped" not in first
    second = (await client.get("/tasks", params={"limit": 2, "cursor": first["next"]})).json()
    assert [t["id"] for t in second["tasks"]] == ids[::-1][2:4]
    third = (await client.get("/tasks", params={"limit": 2, "cursor": second["next"]})).json()
    assert [t["id"] for t in third["tasks"]] == ids[:1] and "next" not in third
    assert third["count"] == 5
    by_offset = (await client.get("/tasks", params={"limit": 2, "offset": 2})).json()
    assert [t["id"] for t in by_offset["tasks"]] == ids[::-1][2:4] and by_offset["count"] == 5
    last = (await client.get("/tasks", params={"limit": 5})).json()
    assert "next" not in last


async def test_a_foreign_or_broken_cursor_is_refused(client: httpx.AsyncClient) -> None:
    await bulk(client, [{"title": f"c{i}", "channel": "a"} for i in range(3)])
    cursor = (await client.get("/tasks", params={"limit": 1, "channel": "a"})).json()["next"]
    forged = base64.urlsafe_b64encode(json.dumps({"s": "created_at"}).encode()).decode()
    for params in (
        {"channel": "b", "cursor": cursor},  # other filters
        {"channel": "a", "sort_by": "priority", "cursor": cursor},  # other sort
        {"channel": "a", "sort_dir": "asc", "cursor": cursor},  # other direction
        {"channel": "a", "cursor": cursor, "offset": 1},
        {"channel": "a", "cursor": "!!not base64!!"},
        {"channel": "a", "cursor": "bm90IGpzb24"},  # "not json"
        {"channel": "a", "cursor": forged},
    ):
        r = await client.get("/tasks", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json().get("field") == "cursor" and "cursor" in r.json()["error"], r.text
    ok = await client.get("/tasks", params={"channel": "a", "limit": 1, "cursor": cursor})
    assert ok.status_code == 200


async def test_counts_past_ten_thousand_stop_and_say_so(client: httpx.AsyncClient) -> None:
    await bulk(client, [{"title": f"many {i}", "channel": "x", "type": "y"} for i in range(10_050)])
    await bulk(client, [{"title": "few needle", "channel": "x", "type": "y"} for _ in range(3)])
    searched = (await client.get("/tasks", params={"search": "many", "limit": 1})).json()
    assert (searched["count"], searched["count_capped"]) == (10_000, True)
    several = (await client.get("/tasks", params={"channel": "x", "priority": 5})).json()
    assert (several["count"], several["count_capped"]) == (10_000, True)
    # channel and type are both kept in the exact counters: no cap
    counted = (await client.get("/tasks", params={"channel": "x", "type": "y"})).json()
    assert counted["count"] == 10_053 and "count_capped" not in counted
    one = (await client.get("/tasks", params={"channel": "x"})).json()
    assert one["count"] == 10_053 and "count_capped" not in one
    small = (await client.get("/tasks", params={"search": "needle", "channel": "x"})).json()
    assert small["count"] == 3 and "count_capped" not in small


CORPUS = [
    ("Ärger im Büro", None),
    ("kein ärger", "ÄRGER? nein"),
    ("100% done", None),
    ("100 percent", "about 100%"),
    ("snake_case", None),
    ("snakeXcase", None),
    ("ab", None),
    ("xAbc", "back\\slash"),
    ('quote"d', "plain"),
    ("plain", "Needle in the description"),
    ("ß und SS", None),
]
SEARCHES = [
    "ärger", "ÄRGER", "Ärger im", "büro", "100%", "%", "0%", "e_c", "_", "ab", "AB", "b", "a",
    "needle", "NEEDLE", "description", "\\", "k\\s", "quote\"d", "\"", "zzz", "ß", "SS", "und ss",
]  # fmt: skip


async def test_search_keeps_its_meaning(client: httpx.AsyncClient) -> None:
    ids = await bulk(client, [{"title": t, "description": d} for t, d in CORPUS])
    for needle in SEARCHES:
        expected = {
            i for i, (t, d) in zip(ids, CORPUS, strict=True)
            if needle.lower() in t.lower() or needle.lower() in (d or "").lower()
        }  # fmt: skip
        r = await client.get("/tasks", params={"search": needle, "limit": 100})
        assert r.status_code == 200, r.text
        assert {t["id"] for t in r.json()["tasks"]} == expected, needle
        assert r.json()["count"] == len(expected), needle


async def test_search_follows_edits_and_deletes(client: httpx.AsyncClient) -> None:
    [a, b] = await bulk(client, [{"title": "alpha one"}, {"title": "beta two"}])
    assert (await client.patch(f"/tasks/{a}", json={"title": "gamma"})).status_code == 200
    assert (await client.delete(f"/tasks/{b}")).status_code == 200

    async def found(text: str) -> list[int]:
        return [
            t["id"] for t in (await client.get("/tasks", params={"search": text})).json()["tasks"]
        ]

    assert await found("alpha") == [] and await found("gamma") == [a] and await found("beta") == []
