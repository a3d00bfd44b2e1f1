"""The SDK's activity feed against scripted servers: requests, errors, SSE parsing, resuming."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ats import AsyncClient, Client
from ats.client.feed import BEGINNING, FeedStream, SseParser
from ats.errors import InvalidInput, NotFound, Unavailable
from ats.models import Actor, ActorType, FeedEvent, FeedType
from tests.conftest import free_port, start_server, stop_server

from .fake import FakeServer

ME = Actor(ActorType.AGENT, "me", "Me")


def fid(n: int) -> str:
    """A ULID-shaped id; bigger n sorts later."""
    return f"01HZZ{n:021d}"


def feed_json(n: int, **fields: Any) -> dict[str, Any]:
    base = {
        "id": fid(n),
        "agent": "claude",
        "type": "finding",
        "summary": f"event {n}",
        "timestamp": "2026-02-25T22:46:55.123Z",
    }
    return base | fields


def frame(event: dict[str, Any]) -> bytes:
    return f"id: {event['id']}\ndata: {json.dumps(event)}\n\n".encode()


def client(fake: FakeServer, scope: tuple[str, str] | None = None) -> AsyncClient:
    return AsyncClient("http://localhost", ME, scope=scope, transport=fake.transport())


# -- plain calls ---------------------------------------------------------------------------------


async def test_publish_sends_only_the_given_fields() -> None:
    fake = FakeServer()
    fake.on("POST", "/feed/events", 201, feed_json(1, detail="more", metadata={"k": 1}))
    async with client(fake) as ats:
        event = await ats.feed_publish(
            "claude", FeedType.FINDING, "event 1", detail="more", metadata={"k": 1}
        )
        assert fake.last_body() == {
            "agent": "claude",
            "type": "finding",
            "summary": "event 1",
            "detail": "more",
            "metadata": {"k": 1},
        }
        await ats.feed_publish("claude", "question", "why?")
        assert fake.last_body() == {"agent": "claude", "type": "question", "summary": "why?"}
    assert event == FeedEvent(
        id=fid(1),
        agent="claude",
        type=FeedType.FINDING,
        summary="event 1",
        timestamp=event.timestamp,
        detail="more",
        metadata={"k": 1},
    )
    assert event.to_json()["timestamp"] == "2026-02-25T22:46:55.123Z"


async def test_list_get_stats_clear_and_the_project_scope() -> None:
    fake = FakeServer()
    root = "/orgs/acme/projects/web/feed"
    fake.on("GET", f"{root}/events", 200, [feed_json(1), feed_json(2)])
    fake.on("GET", f"{root}/events/{fid(2)}", 200, feed_json(2))
    stats = {"total": 2, "byAgent": {"claude": 2}, "byType": {"finding": 2}, "latestPerAgent": {}}
    fake.on("GET", f"{root}/stats", 200, stats)
    fake.on("DELETE", f"{root}/events", 200, {"ok": True})
    async with client(fake, scope=("acme", "web")) as ats:
        events = await ats.feed_list(agent="claude", type=FeedType.FINDING, since=fid(0), limit=2)
        assert dict(fake.last.url.params) == {
            "agent": "claude",
            "type": "finding",
            "since": fid(0),
            "limit": "2",
        }
        assert [e.id for e in events] == [fid(1), fid(2)]
        assert (await ats.feed_get(fid(2))).summary == "event 2"
        assert await ats.feed_stats() == stats
        assert await ats.feed_clear() is None
        assert fake.last.method == "DELETE"


async def test_a_missing_event_is_not_found() -> None:
    fake = FakeServer()
    fake.on("GET", f"/feed/events/{fid(9)}", 404, {"error": "Event not found"})
    async with client(fake) as ats:
        with pytest.raises(NotFound, match="Event not found"):
            await ats.feed_get(fid(9))


async def test_export_and_import_carry_json_lines_untouched() -> None:
    jsonl = (json.dumps(feed_json(1)) + "\n" + json.dumps(feed_json(2)) + "\n").encode()
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/feed/export":
            return httpx.Response(
                200, content=jsonl, headers={"Content-Type": "application/x-ndjson"}
            )
        if request.content.startswith(b"bad"):
            return httpx.Response(400, json={"error": "line 2: invalid JSON", "line": 2})
        return httpx.Response(201, json={"imported": 2})

    transport = httpx.MockTransport(handle)
    async with AsyncClient("http://localhost", ME, transport=transport) as ats:
        assert await ats.feed_export() == jsonl
        assert seen[-1].headers["Accept"] == "application/x-ndjson"
        assert seen[-1].headers["X-Actor-ID"] == "me"
        assert await ats.feed_import(jsonl.decode()) == 2
        assert seen[-1].content == jsonl
        assert seen[-1].headers["Content-Type"] == "application/x-ndjson"
        with pytest.raises(InvalidInput, match="line 2: invalid JSON") as caught:
            await ats.feed_import(b"bad\n")
        assert caught.value.details["line"] == 2


# -- SSE parsing ---------------------------------------------------------------------------------


def parse(*chunks: bytes) -> list[bytes]:
    parser = SseParser()
    return [data for chunk in chunks for data in parser.feed(chunk)]


def test_sse_frames_comments_and_fields() -> None:
    text = b': heartbeat\n\nid: 1\nevent: ignored\ndata: {"a":1}\n\nretry: 10\ndata:x\ndata: y\n\n'
    assert parse(text) == [b'{"a":1}', b"x\ny"]


def test_sse_split_anywhere_gives_the_same_frames() -> None:
    text = b"id: 1\r\ndata: one\r\n\r\n: hb\r\rdata: two\rdata: 2\r\r\ndata: three\n\n"
    whole = parse(text)
    assert whole == [b"one", b"two\n2", b"three"]
    assert parse(*(text[i : i + 1] for i in range(len(text)))) == whole
    for cut in range(len(text)):
        assert parse(text[:cut], text[cut:]) == whole, cut


def test_sse_keeps_characters_other_line_splitters_break_on() -> None:
    summary = "a\u2028b\u0085c\x1cd"
    data = json.dumps({"summary": summary}, ensure_ascii=False).encode()
    [got] = parse(b"data: " + data + b"\n\n")
    assert json.loads(got)["summary"] == summary


def test_sse_an_unfinished_frame_is_not_an_event() -> None:
    assert parse(b"data: complete\n\ndata: cut off\n") == [b"complete"]


# -- the live stream -----------------------------------------------------------------------------

# Bytes to send, an error to raise, "hang" to stay open; a connection that is a status code alone
# is answered with that status.
Step = bytes | BaseException | str | int


@dataclass
class SseScript:
    """Each stream request gets the next list of steps; the feed's newest event is ``newest``."""

    connections: list[list[Step]]
    newest: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    closed: int = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/feed/events"):
            assert request.url.params["limit"] == "1"
            return httpx.Response(200, json=self.newest)
        self.requests.append(request)
        if not self.connections:
            return httpx.Response(503, json={"error": "no more connections scripted"})
        steps = self.connections.pop(0)
        if isinstance(steps[0], int):
            return httpx.Response(steps[0], json={"error": "refused", "code": "invalid"})
        body = ScriptedBody(steps, self)
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=body)

    def client(self) -> AsyncClient:
        return AsyncClient("http://localhost", ME, transport=httpx.MockTransport(self.handle))


class ScriptedBody(httpx.AsyncByteStream):
    """A response body played from steps; counts the responses the client closed."""

    def __init__(self, steps: list[Step], script: SseScript) -> None:
        self._steps = steps
        self._script = script

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for step in self._steps:
            if isinstance(step, bytes):
                yield step
            elif isinstance(step, BaseException):
                raise step
            else:
                await asyncio.sleep(3600)

    async def aclose(self) -> None:
        self._script.closed += 1


async def take(stream: AsyncIterator[FeedEvent], n: int) -> list[FeedEvent]:
    got: list[FeedEvent] = []
    async with asyncio.timeout(10):
        async for event in stream:
            got.append(event)
            if len(got) == n:
                break
    return got


async def test_resumes_after_the_last_event_yielded_and_never_repeats_one() -> None:
    e1, e2, e3 = feed_json(1), feed_json(2), feed_json(3)
    script = SseScript(
        [
            [b": heartbeat\n\n", frame(e1), frame(e2)],  # then the server ends the stream
            [frame(e1) + frame(e2), httpx.ReadError("connection reset")],  # a replay, then lost
            [frame(e2), frame(e3), "hang"],
        ],
        newest=[feed_json(0)],
    )
    connects: list[str | None] = []
    drops: list[str] = []
    async with script.client() as ats:
        stream = ats.feed_stream(
            agent="claude",
            type=FeedType.FINDING,
            on_connect=connects.append,
            on_disconnect=lambda reason, _delay: drops.append(reason),
        )
        async with stream:
            got = await take(stream, 3)
    assert [e.id for e in got] == [fid(1), fid(2), fid(3)]
    first, second, third = script.requests
    # Started without since: after the newest event at the time, then by Last-Event-ID.
    assert dict(first.url.params) == {"agent": "claude", "type": "finding", "since": fid(0)}
    assert "last-event-id" not in first.headers
    assert first.headers["Accept"] == "text/event-stream"
    for later in (second, third):
        assert dict(later.url.params) == {"agent": "claude", "type": "finding"}
        assert later.headers["Last-Event-ID"] == fid(2)
    assert connects == [None, fid(2), fid(2)]
    assert drops == ["the server ended the stream", "connection reset"]
    assert script.closed == 3  # leaving the loop released the open connection


async def test_an_empty_feed_starts_at_the_beginning_and_keeps_a_given_since() -> None:
    script = SseScript([[b""], [frame(feed_json(1)), "hang"]])
    async with script.client() as ats, ats.feed_stream() as stream:
        await take(stream, 1)
    assert [r.url.params["since"] for r in script.requests] == [BEGINNING, BEGINNING]

    since = "2026-02-25T22:00:00.000Z"
    script = SseScript([[b""], [frame(feed_json(1)), "hang"]], newest=[feed_json(9)])
    async with script.client() as ats, ats.feed_stream(since=since) as stream:
        await take(stream, 1)
    # Nothing yielded before the drop: the reconnection asks for the same start again.
    assert [r.url.params["since"] for r in script.requests] == [since, since]
    assert all("last-event-id" not in r.headers for r in script.requests)


async def test_the_first_connection_must_succeed() -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with AsyncClient("http://localhost", ME, transport=httpx.MockTransport(refuse)) as ats:
        with pytest.raises(Unavailable):
            await take(ats.feed_stream(since=fid(0)), 1)

    script = SseScript([[400]])
    async with script.client() as ats:
        with pytest.raises(InvalidInput, match="refused"):
            await take(ats.feed_stream(since=fid(0)), 1)


async def test_a_server_error_after_connecting_is_retried_a_refusal_is_not() -> None:
    script = SseScript([[frame(feed_json(1))], [503], [frame(feed_json(2)), "hang"]])
    async with script.client() as ats, ats.feed_stream(since=fid(0)) as stream:
        got = await take(stream, 2)
    assert [e.id for e in got] == [fid(1), fid(2)]

    script = SseScript([[frame(feed_json(1))], [400]])
    async with script.client() as ats, ats.feed_stream(since=fid(0)) as stream:
        with pytest.raises(InvalidInput):
            await take(stream, 2)


async def test_without_reconnect_the_end_of_the_stream_is_an_error() -> None:
    script = SseScript([[frame(feed_json(1))]])
    got: list[FeedEvent] = []
    async with script.client() as ats:
        with pytest.raises(Unavailable, match="the feed stream ended"):
            async for event in ats.feed_stream(since=fid(0), reconnect=False):
                got.append(event)
    assert [e.id for e in got] == [fid(1)]


def test_sync_client_feed_calls_and_stream() -> None:
    script = SseScript([[frame(feed_json(1)), frame(feed_json(2)), "hang"]])
    fake = FakeServer()

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/feed/stream":
            return await script.handle(request)
        return fake.handle(request)

    fake.on("POST", "/feed/events", 201, feed_json(1))
    with Client("http://localhost", ME, transport=httpx.MockTransport(handle)) as ats:
        assert ats.feed_publish("claude", "finding", "event 1").id == fid(1)
        seen = []
        for event in ats.feed_stream(since=fid(0)):
            seen.append(event.id)
            if len(seen) == 2:
                break
        assert seen == [fid(1), fid(2)]
    assert script.closed == 1


# -- against a real server (SQLite and PostgreSQL) -----------------------------------------------


async def test_live_publish_read_page_and_clear(server_url: str) -> None:
    async with AsyncClient(server_url, ME) as ats:
        published = [
            await ats.feed_publish(f"agent-{i % 2}", FeedType.FINDING, f"found {i}")
            for i in range(5)
        ]
        ids = [e.id for e in published]
        assert ids == sorted(ids) and len(set(ids)) == 5 and all(len(i) == 26 for i in ids)
        assert [e.id for e in await ats.feed_list(limit=2)] == ids[-2:]  # the last ones
        after = await ats.feed_list(since=ids[0], limit=2)  # the first ones after
        assert [e.id for e in after] == ids[1:3]
        mine = await ats.feed_list(agent="agent-1")
        assert [e.summary for e in mine] == ["found 1", "found 3"]
        rich = await ats.feed_publish(
            "agent-0", "question", "why?", detail="see log", metadata={"n": [1]}
        )
        assert (await ats.feed_get(rich.id)) == rich
        assert [e.id for e in await ats.feed_list(type="question")] == [rich.id]
        stats = await ats.feed_stats()
        assert stats["total"] == 6 and stats["byAgent"] == {"agent-0": 4, "agent-1": 2}
        assert stats["latestPerAgent"]["agent-0"]["id"] == rich.id
        await ats.feed_clear()
        assert await ats.feed_list() == []
        with pytest.raises(NotFound, match="Event not found"):
            await ats.feed_get(rich.id)


async def test_live_export_import_round_trip_and_a_bad_line(server_url: str) -> None:
    async with AsyncClient(server_url, ME) as ats:
        for i in range(3):
            await ats.feed_publish("a", "custom", f"e{i}", metadata={"i": i})
        before = await ats.feed_list()
        exported = await ats.feed_export()
        assert [json.loads(line)["id"] for line in exported.splitlines()] == [e.id for e in before]
        await ats.feed_clear()
        assert await ats.feed_import(exported) == 3
        assert await ats.feed_list() == before
        broken = exported + b'{"id": "nope"}\n'
        with pytest.raises(InvalidInput, match="line 4") as caught:
            await ats.feed_import(broken.decode())
        assert caught.value.details["line"] == 4


async def test_live_stream_filters_replays_and_scopes(server_url: str) -> None:
    async with AsyncClient(server_url, ME) as root:
        await root.create_org("acme", "Acme")
        await root.create_project("acme", "web", "Web")
    async with (
        AsyncClient(server_url, ME) as ats,
        AsyncClient(server_url, ME, scope=("acme", "web")) as web,
    ):
        old = await ats.feed_publish("x", "finding", "old")
        ready = asyncio.Event()
        stream = ats.feed_stream(agent="x", on_connect=lambda _last: ready.set())
        reader = asyncio.create_task(take(stream, 2))
        web_reader = asyncio.create_task(take(web.feed_stream(since=BEGINNING), 1))
        await asyncio.wait_for(ready.wait(), 10)
        await ats.feed_publish("y", "finding", "not x")
        new = [await ats.feed_publish("x", "finding", f"new {i}") for i in range(2)]
        in_web = await web.feed_publish("x", "finding", "in web")
        assert [e.id for e in await reader] == [e.id for e in new]  # not `old`: from now on
        assert [e.id for e in await web_reader] == [in_web.id]
        async with ats.feed_stream(since=BEGINNING, type="finding") as replay:
            got = await take(replay, 4)
        assert [e.summary for e in got] == ["old", "not x", "new 0", "new 1"]
        assert got[0] == old


class CuttingTransport(httpx.AsyncHTTPTransport):
    """Cuts every feed stream after a few chunks, as a flaky network would."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after
        self.cuts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not request.url.path.endswith("/feed/stream"):
            return response
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=Cut(response.stream, self),
            extensions=response.extensions,
        )


class Cut(httpx.AsyncByteStream):
    def __init__(self, inner: Any, transport: CuttingTransport) -> None:
        self._inner = inner
        self._transport = transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in self._inner:
            yield chunk
            sent += 1
            if sent == self._transport.after:
                self._transport.cuts += 1
                raise httpx.ReadError("cut by the test")

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_live_resume_loses_nothing_while_others_publish(server_url: str) -> None:
    transport = CuttingTransport(after=2)
    total = 120
    async with (
        AsyncClient(server_url, ME) as publisher,
        AsyncClient(server_url, ME, transport=transport) as reader,
    ):
        ready = asyncio.Event()
        stream = reader.feed_stream(on_connect=lambda _last: ready.set())
        receiving = asyncio.create_task(take_within(stream, total, 60))
        await asyncio.wait_for(ready.wait(), 10)

        async def publish(worker: int) -> list[str]:
            ids = []
            for i in range(total // 4):
                event = await publisher.feed_publish(f"w{worker}", "custom", f"{i}")
                ids.append(event.id)
                await asyncio.sleep(0.005)
            return ids

        published = sorted(i for ids in await asyncio.gather(*map(publish, range(4))) for i in ids)
        got = [e.id for e in await receiving]
    assert got == published  # each exactly once, in id order
    assert transport.cuts >= 1  # the server batches events per write: how many cuts varies


async def take_within(stream: FeedStream, n: int, seconds: float) -> list[FeedEvent]:
    got: list[FeedEvent] = []
    async with asyncio.timeout(seconds), stream:
        async for event in stream:
            got.append(event)
            if len(got) == n:
                break
    return got


async def test_live_resumes_after_the_server_restarts(db_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(db_url, port=port)
    drops: list[str] = []
    connects: list[str | None] = []
    ready = asyncio.Event()

    def connected(last: str | None) -> None:
        connects.append(last)
        ready.set()

    try:
        async with AsyncClient(url, ME) as ats:
            stream = ats.feed_stream(
                on_connect=connected, on_disconnect=lambda r, _d: drops.append(r)
            )
            reader = asyncio.create_task(take_within(stream, 4, 40))
            await asyncio.wait_for(ready.wait(), 10)
            first = await ats.feed_publish("a", "agent_started", "before")
            await asyncio.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
            stop_server(proc)
            proc = await asyncio.to_thread(start_server, db_url, port=port)
            later = [await ats.feed_publish("a", "custom", f"after {i}") for i in range(3)]
            got = await reader
        assert [e.id for e in got] == [first.id, *(e.id for e in later)]
        assert drops and len(connects) >= 2 and connects[-1] == first.id
    finally:
        stop_server(proc)


def test_live_sync_client(server_url: str) -> None:
    with Client(server_url, ME) as ats:
        start = ats.feed_publish("s", "agent_started", "hello")
        published = [ats.feed_publish("s", "custom", f"s{i}") for i in range(3)]
        seen = []
        for event in ats.feed_stream(since=start.id):
            seen.append(event.id)
            if len(seen) == 3:
                break  # closes the stream on the portal
        assert seen == [e.id for e in published]
        assert ats.feed_stats()["total"] == 4  # the client is still usable
