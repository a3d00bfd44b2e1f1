"""The SDK's live event stream against a real server: filters, replay, resume, the sync bridge."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from ats import AsyncClient, Client
from ats.client.stream import EventStream
from ats.errors import Unavailable
from ats.models import Actor, ActorType, Event, EventType
from tests.conftest import free_port, start_server, stop_server

A = Actor(ActorType.AGENT, "sdk", "SDK")


async def take(stream: EventStream, n: int, within: float = 10) -> list[Event]:
    got: list[Event] = []
    async with asyncio.timeout(within), stream:
        async for event in stream:
            got.append(event)
            if len(got) == n:
                break
    return got


async def test_filters_and_typed_events(server_url: str) -> None:
    async with AsyncClient(server_url, A) as ats:
        ready = asyncio.Event()
        stream = ats.events(
            channels=["ops"],
            event_types=["task.created", "task.completed"],
            on_connect=lambda _after: ready.set(),
        )
        reader = asyncio.create_task(take(stream, 2))
        await asyncio.wait_for(ready.wait(), 10)
        await ats.create_task("elsewhere", channel="dev")
        task = await ats.create_task("mine", channel="ops", payload={"k": 1})
        claimed = await ats.claim(task.id)
        await ats.complete(task.id, {"done": True}, lease_token=claimed.lease_token)
        created, completed = await reader
        assert (created.type, created.task_id, created.channel) == (
            EventType.CREATED,
            task.id,
            "ops",
        )
        assert created.task.payload == {"k": 1} and created.actor == A
        assert completed.type is EventType.COMPLETED
        assert completed.task.outputs == [{"done": True}] and completed.id > created.id


async def test_since_replays_then_goes_live(server_url: str) -> None:
    async with AsyncClient(server_url, A) as ats:
        old = [await ats.create_task(f"old {i}") for i in range(3)]
        start = (await ats.event_log(since=0))[0].id - 1
        reader = asyncio.create_task(take(ats.events(since=start), 4))
        await asyncio.sleep(0.3)
        new = await ats.create_task("new")
        got = await reader
        assert [e.task_id for e in got] == [t.id for t in [*old, new]]


async def test_scoped_client_sees_only_its_project(server_url: str) -> None:
    async with AsyncClient(server_url, A) as root:
        await root.create_org("acme", "Acme")
        await root.create_project("acme", "web", "Web")
    async with (
        AsyncClient(server_url, A, scope=("acme", "web")) as web,
        AsyncClient(server_url, A, scope=("default", "main")) as main,
    ):
        ready = asyncio.Event()
        reader = asyncio.create_task(take(web.events(on_connect=lambda _: ready.set()), 1))
        await asyncio.wait_for(ready.wait(), 10)
        await main.create_task("not for web")
        mine = await web.create_task("for web")
        [event] = await reader
        assert event.task_id == mine.id and event.task.project == "acme/web"


async def test_first_connection_failure_is_an_error() -> None:
    async with AsyncClient(f"http://127.0.0.1:{free_port()}", A) as ats:
        with pytest.raises(Unavailable):
            await take(ats.events(since=0), 1)


async def test_resumes_after_the_server_restarts(db_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, port=port)
    drops: list[str] = []
    connects: list[int] = []
    try:
        async with AsyncClient(url, A) as ats:
            stream = ats.events(
                on_connect=connects.append, on_disconnect=lambda r, _d: drops.append(r)
            )
            reader = asyncio.create_task(take(stream, 4, within=40))
            await asyncio.sleep(0.5)
            first = await ats.create_task("before")
            await asyncio.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
            stop_server(proc)
            proc = await asyncio.to_thread(start_server, db_url, port=port)
            later = [await ats.create_task(f"after {i}") for i in range(3)]
            got = await reader
        assert [e.task_id for e in got] == [first.id, *(t.id for t in later)]
        assert drops and len(connects) >= 2 and connects[-1] >= got[0].id
    finally:
        stop_server(proc)


def test_sync_client_iterates_and_closes(server_url: str) -> None:
    with Client(server_url, A) as ats:
        since = ats.latest_event_id()
        tasks = [ats.create_task(f"s{i}") for i in range(3)]
        seen = []
        for event in ats.events(since=since):
            seen.append(event.task_id)
            if len(seen) == 3:
                break  # closes the stream on the portal
        assert seen == [t.id for t in tasks]
        assert ats.health()["status"] == "ok"  # the client is still usable


def test_latest_event_id_endpoint(server_url: str) -> None:
    before = httpx.get(f"{server_url}/events/latest").json()["id"]
    httpx.post(f"{server_url}/tasks", json={"title": "x"})
    after = httpx.get(f"{server_url}/events/latest").json()["id"]
    assert after == before + 1
    scoped = httpx.get(f"{server_url}/orgs/default/projects/main/events/latest")
    assert scoped.status_code == 200 and scoped.json()["id"] == after
    missing = httpx.get(f"{server_url}/orgs/nope/projects/main/events/latest")
    assert missing.status_code == 404 and "error" in missing.json()
