"""The SDK as a user sees it: routes, headers, bodies, typed results, errors."""

from __future__ import annotations

import asyncio
import socket

import pytest

from ats.client import AsyncClient, Client, capture_json
from ats.errors import Conflict, InvalidInput, NotFound, Unavailable
from ats.models import Actor, ActorType, Status

from .fake import FakeServer, task_json

pytestmark = pytest.mark.anyio

ME = Actor(ActorType.AGENT, "worker-1", "Worker One")


def client(fake: FakeServer, scope: tuple[str, str] | None = None) -> AsyncClient:
    return AsyncClient("http://localhost", ME, scope=scope, transport=fake.transport())


async def test_every_request_carries_the_actor_headers() -> None:
    fake = FakeServer()
    fake.on("GET", "/health", 200, {"status": "ok"})
    fake.on("POST", "/tasks/3/claim", 200, task_json(3, status="in_progress"))
    async with client(fake) as ats:
        await ats.health()
        await ats.claim(3, lease_ms=5000)
    for request in fake.requests:
        assert request.headers["X-Actor-Type"] == "agent"
        assert request.headers["X-Actor-ID"] == "worker-1"
        assert request.headers["X-Actor-Name"] == "Worker One"
    assert fake.last_body() == {"lease_duration": 5000}


async def test_create_sends_every_field_and_returns_a_task() -> None:
    fake = FakeServer()
    fake.on("POST", "/tasks", 201, task_json(7, title="t", depends_on=[1, 2], max_attempts=3))
    async with client(fake) as ats:
        task = await ats.create_task(
            "t", priority=9, payload={"k": 1}, depends_on=[1, 2], max_attempts=3, channel="ops"
        )
    assert fake.last_body() == {
        "title": "t",
        "channel": "ops",
        "priority": 9,
        "payload": {"k": 1},
        "depends_on": [1, 2],
        "max_attempts": 3,
    }
    assert (task.id, task.status, task.depends_on, task.max_attempts) == (
        7,
        Status.PENDING,
        [1, 2],
        3,
    )


async def test_scoped_client_uses_project_routes_and_unscoped_uses_plain_ones() -> None:
    fake = FakeServer()
    fake.on("GET", "/orgs/acme/projects/web/tasks", 200, {"tasks": [], "count": 0})
    fake.on("GET", "/tasks", 200, {"tasks": [task_json(1)], "count": 41})
    async with client(fake, scope=("acme", "web")) as ats:
        assert (await ats.list_tasks(status="pending")).count == 0
    assert fake.last.url.params["status"] == "pending"
    async with client(fake) as ats:
        page = await ats.list_tasks(min_priority=7, limit=1)
    assert page.count == 41 and [t.id for t in page.tasks] == [1]
    assert dict(fake.last.url.params) == {"min_priority": "7", "limit": "1"}


async def test_cancel_sends_no_body() -> None:
    fake = FakeServer()
    fake.on("POST", "/tasks/4/cancel", 200, task_json(4, status="cancelled"))
    async with client(fake) as ats:
        assert (await ats.cancel(4)).status is Status.CANCELLED
    assert fake.last.content == b""


async def test_claim_next_and_messages() -> None:
    fake = FakeServer()
    fake.on("POST", "/tasks/claim", 200, {"tasks": [task_json(2, status="in_progress")]})
    message = {
        "id": 1,
        "task_id": 2,
        "actor_type": "agent",
        "actor_id": "worker-1",
        "actor_name": "Worker One",
        "parts": [{"type": "text", "content": "hi"}],
        "created_at": "2026-02-25T22:46:55.000Z",
    }
    fake.on("POST", "/tasks/2/messages", 201, message)
    fake.on("GET", "/tasks/2/messages", 200, {"messages": [message]})
    async with client(fake) as ats:
        [claimed] = await ats.claim_next(channel="ops", limit=1)
        assert fake.last_body() == {"channel": "ops", "limit": 1}
        added = await ats.add_message(claimed.id, "hi")
        assert fake.last_body() == {"parts": [{"type": "text", "content": "hi"}]}
        assert [m.parts for m in await ats.list_messages(2)] == [added.parts]


async def test_error_bodies_become_the_same_exception_classes() -> None:
    fake = FakeServer()
    conflict = {"error": "Task already claimed (in_progress status)", "code": "conflict"}
    fake.on("POST", "/tasks/1/claim", 409, conflict)
    fake.on("POST", "/tasks", 400, {"error": "title: required", "code": "invalid"})
    async with client(fake) as ats:
        with pytest.raises(Conflict, match=r"already claimed \(in_progress status\)"):
            await ats.claim(1)
        with pytest.raises(InvalidInput, match="title"):
            await ats.create_task("")
        with pytest.raises(NotFound):
            await ats.get_task(99)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_unreachable_server_is_unavailable_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    async with AsyncClient(url, ME) as ats:
        with pytest.raises(Unavailable, match=f"cannot reach the ATS server at {url}"):
            await ats.health()


async def test_capture_json_keeps_exactly_what_the_server_sent() -> None:
    fake = FakeServer()
    fake.on("GET", "/tasks/1", 200, task_json(1))
    async with client(fake) as ats:
        with capture_json() as bodies:
            task = await ats.get_task(1)
    assert bodies == [task_json(1)]  # unknown fields included
    assert task.id == 1


def test_sync_client_has_the_same_methods_and_results() -> None:
    fake = FakeServer()
    fake.on("POST", "/tasks/5/complete", 200, task_json(5, status="completed", outputs=[1]))
    with Client("http://localhost", ME, transport=fake.transport()) as ats:
        task = ats.complete(5, [1], lease_token=3)
    assert task.status is Status.COMPLETED and task.outputs == [1]
    assert fake.last_body() == {"outputs": [1], "lease_token": 3}
    public = {n for n in dir(AsyncClient) if not n.startswith("_")}
    assert public - {"aclose", "from_settings", "capture_json"} <= set(dir(Client))


async def test_sync_client_works_inside_a_running_event_loop() -> None:
    fake = FakeServer()
    fake.on("GET", "/health", 200, {"status": "ok"})
    assert asyncio.get_running_loop()
    with Client("http://localhost", ME, transport=fake.transport()) as ats:
        assert ats.health() == {"status": "ok"}


def test_sync_client_raises_the_server_error() -> None:
    fake = FakeServer()
    with Client("http://localhost", ME, transport=fake.transport()) as ats, pytest.raises(NotFound):
        ats.get_task(1)
