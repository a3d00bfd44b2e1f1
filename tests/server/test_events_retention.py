"""Event log retention over HTTP (SPEC §9.1): ``ats serve --events-retention`` trims in the
background; REST and SSE readers asking for trimmed events get ``410 gone`` with ``oldest``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from ats.models import Actor, ActorType, Millis, now_ms
from ats.server.app import create_app
from ats.store import NewTask, open_store

ACTOR = Actor(ActorType.AGENT, "old", "Old")
SCOPED = "/orgs/default/projects/main"


async def backdate(db_url: str, n: int, hours: int = 2) -> None:
    """``n`` events written ``hours`` ago, then one now, straight through the store (so the
    trimmer's first round, at start-up, has its work cut out)."""
    store = await open_store(db_url)
    try:
        specs = [NewTask(title=f"old {i}") for i in range(n)]
        await store.tasks.create_tasks(1, specs, ACTOR, Millis(now_ms() - hours * 3_600_000))
        await store.tasks.create_tasks(1, [NewTask(title="young")], ACTOR, now_ms())
    finally:
        await store.close()


@asynccontextmanager
async def app_client(db_url: str, retention: float) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(db_url, reaper_interval=0, events_retention=retention)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            yield c


async def trimmed_to(c: httpx.AsyncClient, oldest: int) -> None:
    """Wait until the background trimmer has left ``oldest`` as the oldest event kept."""
    async with asyncio.timeout(10):
        # The trimmer is the app's task or another process's, watched from outside through the
        # API, which offers no event to wait on (hence the noqa).
        while (await c.get("/events/latest")).json().get("oldest") != oldest:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_few_seconds_of_retention_trims_and_readers_get_410(db_url: str) -> None:
    async with app_client(db_url, retention=1) as c:
        for i in range(3):
            assert (await c.post("/tasks", json={"title": f"t{i}"})).status_code == 201
        assert len((await c.get("/events", params={"since": 0})).json()["events"]) == 3
        await asyncio.sleep(1.2)  # older than the retention now
        assert (await c.post("/tasks", json={"title": "young"})).status_code == 201
        await trimmed_to(c, oldest := 4)
        for root in ("", SCOPED):
            r = await c.get(f"{root}/events", params={"since": 1})
            assert r.status_code == 410, r.text
            assert r.json() == {"error": r.json()["error"], "code": "gone", "oldest": 4}
            assert "no longer kept" in r.json()["error"]
            ok = await c.get(f"{root}/events", params={"since": oldest - 1})
            assert [e["id"] for e in ok.json()["events"]] == [4]
        # Without `since`: from the oldest kept, nothing to refuse.
        assert [e["id"] for e in (await c.get("/events")).json()["events"]] == [4]
        assert (await c.get("/events/latest")).json() == {"id": 4, "oldest": 4}


async def test_sse_since_and_last_event_id_get_410(db_url: str) -> None:
    await backdate(db_url, 30)
    async with app_client(db_url, retention=60) as c:
        await trimmed_to(c, 31)
        for root in ("", SCOPED):
            for params, headers in (({"since": "1"}, {}), ({}, {"Last-Event-ID": "5"})):
                r = await c.get(f"{root}/events/stream", params=params, headers=headers)
                assert r.status_code == 410, r.text
                assert r.json()["code"] == "gone" and r.json()["oldest"] == 31


async def test_retention_zero_keeps_everything(db_url: str) -> None:
    await backdate(db_url, 20, hours=24 * 400)
    async with app_client(db_url, retention=0) as c:
        await asyncio.sleep(1.0)  # a trimmer would have run its first round by now
        r = await c.get("/events", params={"since": 0})
        assert r.status_code == 200
        assert [e["id"] for e in r.json()["events"]] == list(range(1, 22))
        assert (await c.get("/events/latest")).json() == {"id": 21, "oldest": 1}


@pytest.mark.parametrize("text", ["30d", "12h", "15m", "90s", "90", "0", "1.5h"])
def test_durations(text: str) -> None:
    from ats.durations import parse_duration

    assert parse_duration(text) == {
        "30d": 30 * 86400, "12h": 12 * 3600, "15m": 900, "90s": 90, "90": 90, "0": 0,
        "1.5h": 5400,
    }[text]  # fmt: skip


def test_a_bad_duration_names_the_option() -> None:
    from ats.durations import parse_duration
    from ats.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--events-retention: '3 weeks' is not a duration"):
        parse_duration("3 weeks", "--events-retention")
