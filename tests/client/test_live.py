"""The SDK against a real ``ats serve`` on both backends."""

from __future__ import annotations

import pytest

from ats.client import AsyncClient, Client
from ats.errors import Conflict
from ats.models import Actor, ActorType, Status

pytestmark = pytest.mark.anyio

A = Actor(ActorType.AGENT, "sdk-a", "SDK A")
B = Actor(ActorType.AGENT, "sdk-b", "SDK B")


async def test_async_client_round_trip(server_url: str) -> None:
    async with AsyncClient(server_url, A) as a, AsyncClient(server_url, B) as b:
        created = await a.bulk_create([{"title": f"t{n}", "priority": n + 1} for n in range(3)])
        assert [t.title for t in created] == ["t0", "t1", "t2"]
        [top] = await a.claim_next(limit=1)
        assert (top.title, top.status, top.assignee) == ("t2", Status.IN_PROGRESS, A)
        with pytest.raises(Conflict, match="already claimed"):
            await b.claim(top.id)
        with pytest.raises(Conflict):
            await a.complete(top.id, lease_token=top.lease_token + 1)  # a stale fence
        done = await a.complete(top.id, {"ok": 1}, lease_token=top.lease_token)
        assert done.status is Status.COMPLETED
        events = await a.event_log(since=0)
        assert {"task.created", "task.claimed", "task.completed"} <= {e.type for e in events}
        page = await b.list_tasks(status="pending")
        assert page.count == 2


def test_sync_client_round_trip(server_url: str) -> None:
    with Client(server_url, A, scope=("default", "main")) as ats:
        task = ats.create_task("sync", channel="ops")
        assert ats.claim(task.id, lease_ms=10_000).status is Status.IN_PROGRESS
        released = ats.release(task.id, reason="later")
        assert released.status is Status.PENDING and released.reason == "later"
        ats.add_message(task.id, "note")
        fetched = ats.get_task(task.id)
        assert fetched.messages is not None and fetched.messages[0].parts[0]["content"] == "note"
        assert ats.stats()["total"] == 1
        assert [o["slug"] for o in ats.list_orgs()] == ["default"]


def test_client_without_arguments_reads_the_environment(
    server_url: str, tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setenv("ATS_URL", server_url)
    monkeypatch.setenv("ATS_ACTOR_ID", "env-agent")
    with Client() as client:
        task = client.create_task("from the environment", channel="env")
        assert task.source.id == "env-agent"
        done = client.complete_many([{"id": client.claim(task.id).id}])
        assert [t.status for t in done[0]] == [Status.COMPLETED] and done[1] == []
