"""Event log retention against a real ``ats serve --events-retention``: the WebSocket closes 4410,
the SDK and ``ats watch`` say how many events were missed and go on from the oldest kept one."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ats.client import AsyncClient, EventGap, EventGapWarning
from ats.models import Actor, ActorType
from tests.acceptance.test_watch import Watcher, create
from tests.conftest import running_server
from tests.server.test_events_retention import backdate, trimmed_to

ME = Actor(ActorType.AGENT, "reader", "Reader")


@pytest.fixture
async def trimmed_url(db_url: str) -> AsyncIterator[str]:
    """A real server over 30 events from two hours ago and one young one (event 31); its
    retention of a minute has trimmed the old ones by the time the test starts."""
    await backdate(db_url, 30)
    with running_server(db_url, "--events-retention", "60s", "--reaper-interval", "0.2") as url:
        async with httpx.AsyncClient(base_url=url) as c:
            await trimmed_to(c, 31)
        yield url


async def test_websocket_since_of_trimmed_events_closes_4410(trimmed_url: str) -> None:
    url = trimmed_url.replace("http://", "ws://") + "/ws?actor_type=agent&actor_id=w"
    async with connect(url) as ws:
        assert json.loads(await ws.recv()) == {"type": "connected"}
        await ws.send(json.dumps({"type": "subscribe", "id": "s", "since": 1}))
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410
    reason = json.loads(closed.value.rcvd.reason)
    assert reason["code"] == "gone" and reason["oldest"] == 31
    async with connect(url) as ws:  # since = oldest - 1 misses nothing: accepted
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "id": "s", "since": 30}))
        assert json.loads(await ws.recv()) == {"type": "subscribed", "id": "s"}
        assert json.loads(await ws.recv())["id"] == 31


async def test_sdk_stream_reports_the_gap_and_goes_on(trimmed_url: str) -> None:
    gaps: list[EventGap] = []
    async with AsyncClient(trimmed_url, ME) as client:
        async with client.events(since=1, on_gap=gaps.append) as stream:
            first = await anext(stream)
            await client.create_task("later")
            second = await anext(stream)
        assert (first.id, second.id) == (31, 32)
        assert gaps == [EventGap(after=1, oldest=31)] and gaps[0].missed == 29
        with pytest.warns(EventGapWarning, match="up to 30 event"):
            async with client.events(since=0) as stream:
                assert (await anext(stream)).id == 31


def test_watch_says_it_missed_events_loudly_and_keeps_printing(trimmed_url: str) -> None:
    w = Watcher(trimmed_url, "--since", "1")
    try:
        assert w.proc.stderr is not None
        warning = w.proc.stderr.readline()
        assert warning.startswith("WARNING: events 2..30 are no longer kept"), warning
        assert "up to 29 event(s) missed" in warning and "continuing from event 31" in warning
        assert w.proc.stderr.readline().startswith("Watching events")
        assert w.next()[1] == "Task #31: young"
        later = create(trimmed_url, "later")
        assert w.next()[1] == f"Task #{later['id']}: later"
        code, _ = w.stop(signal.SIGINT)
        assert code == 0
    finally:
        if w.proc.poll() is None:
            w.stop(signal.SIGKILL)
