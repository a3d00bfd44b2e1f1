"""Callbacks (SPEC §6): POSTed to a real local receiver, retried with backoff, signed, drained."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ats.dispatch.callbacks import (
    SIGNATURE_HEADER,
    Deliveries,
    callback_body,
    callback_url,
    signature,
)

from .receiver import Receiver
from .samples import CapturedLog, make_task

MakeDeliveries = Callable[..., Deliveries]


@pytest.fixture
def captured() -> CapturedLog:
    return CapturedLog()


@pytest.fixture
async def deliveries(captured: CapturedLog) -> AsyncIterator[MakeDeliveries]:
    """Build ``Deliveries`` with fast backoff; all are closed after the test."""
    made: list[Deliveries] = []

    def make(**options: Any) -> Deliveries:
        d = Deliveries(captured.log, **{"backoff": 0.01, **options})
        made.append(d)
        return d

    yield make
    for d in made:
        await d.aclose()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_body_has_exactly_the_four_fields() -> None:
    done = make_task(12, status="completed", outputs=[{"pages": 3}])
    assert callback_body(done) == {
        "task_id": 12,
        "status": "completed",
        "result": [{"pages": 3}],
        "completed_at": "2026-02-25T22:46:55.123Z",
    }
    failed = make_task(13, status="failed", reason="Exceeded max retry attempts (3)")
    assert callback_body(failed)["result"] == "Exceeded max retry attempts (3)"
    assert callback_body(failed)["status"] == "failed"


def test_callback_url_comes_from_the_payload() -> None:
    assert callback_url({"callback_url": " https://example.test/hook "}) == (
        "https://example.test/hook"
    )
    assert callback_url({}) is None
    assert callback_url({"callback_url": 42}) is None


async def test_retried_after_two_500s_then_delivered_signed(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    task = make_task(12, status="completed", outputs=["done ✓"])
    async with Receiver(500, 500) as receiver:
        d = deliveries(secret="s3cret")
        assert d.submit(receiver.url + "/hook", callback_body(task), what="callback", task_id=12)
        await d.drain(10)
    tries = receiver.requests
    assert len(tries) == 3
    assert all(r.method == "POST" and r.path == "/hook" for r in tries)
    assert tries[0].body == tries[1].body == tries[2].body
    assert tries[-1].json() == {
        "task_id": 12,
        "status": "completed",
        "result": ["done ✓"],
        "completed_at": "2026-02-25T22:46:55.123Z",
    }
    assert tries[-1].headers["content-type"] == "application/json"
    expected = "sha256=" + hmac.new(b"s3cret", tries[-1].body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(tries[-1].headers[SIGNATURE_HEADER.lower()], expected)
    assert signature("s3cret", tries[-1].body) == expected
    logged = [(r["msg"], r.get("attempt"), r.get("error")) for r in captured.records]
    assert logged == [
        ("callback attempt failed", 1, "HTTP 500"),
        ("callback attempt failed", 2, "HTTP 500"),
        ("callback delivered", 3, None),
    ]
    assert captured.records[0]["retry_in"] < captured.records[1]["retry_in"]  # backoff doubles


async def test_unsigned_without_a_secret(deliveries: MakeDeliveries) -> None:
    async with Receiver() as receiver:
        d = deliveries()
        d.submit(receiver.url, {"task_id": 1}, what="callback", task_id=1)
        await d.drain(10)
    assert SIGNATURE_HEADER.lower() not in receiver.requests[0].headers


async def test_a_400_is_not_retried(deliveries: MakeDeliveries, captured: CapturedLog) -> None:
    async with Receiver(400, 200) as receiver:
        d = deliveries()
        d.submit(receiver.url, {"task_id": 5}, what="callback", task_id=5)
        await d.drain(10)
    assert len(receiver.requests) == 1
    [record] = captured.records
    assert record["level"] == "error"
    assert record["msg"] == "callback refused, not retried"
    assert record["status"] == 400 and record["task_id"] == 5


async def test_a_429_is_retried(deliveries: MakeDeliveries) -> None:
    async with Receiver(429, headers={"Retry-After": "0"}) as receiver:
        d = deliveries()
        d.submit(receiver.url, {"task_id": 5}, what="callback", task_id=5)
        await d.drain(10)
    assert len(receiver.requests) == 2


async def test_unreachable_gives_up_after_n_attempts(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    d = deliveries(attempts=3)
    d.submit(f"http://127.0.0.1:{closed_port()}/hook", {}, what="callback", task_id=7)
    await d.drain(10)
    records = captured.records
    assert [r["msg"] for r in records] == [
        "callback attempt failed",
        "callback attempt failed",
        "callback gave up",
    ]
    assert all("ConnectError" in r["error"] for r in records)
    assert records[-1]["level"] == "error"
    assert records[-1]["attempts"] == 3 and records[-1]["task_id"] == 7
    assert d.pending == 0


async def test_drain_waits_for_a_delivery_in_backoff(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    async with Receiver(503) as receiver:
        d = deliveries(backoff=0.3)
        d.submit(receiver.url, {"task_id": 1}, what="callback", task_id=1)
        await d.drain(10)  # returns only once the retry, 0.3 s later, got through
        assert len(receiver.requests) == 2
    assert captured.messages()[-1] == "callback delivered"
    assert d.pending == 0


async def test_drain_abandons_what_outlives_the_timeout(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    d = deliveries(backoff=30)
    d.submit(f"http://127.0.0.1:{closed_port()}/", {}, what="callback", task_id=9)
    await d.drain(0.5)
    assert d.pending == 0
    last = captured.records[-1]
    assert last["msg"] == "callback abandoned at shutdown" and last["task_id"] == 9
    # after drain nothing new starts: the dispatcher is shutting down
    assert not d.submit("http://127.0.0.1:1/", {}, what="callback", task_id=10)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.test/x", "unsupported scheme 'ftp'"),
        ("file:///etc/passwd", "unsupported scheme 'file'"),
        ("example.test/hook", "unsupported scheme"),
        ("http://", "no host"),
    ],
)
async def test_a_bad_url_is_logged_and_skipped(
    deliveries: MakeDeliveries, captured: CapturedLog, url: str, problem: str
) -> None:
    d = deliveries()
    assert not d.submit(url, {}, what="callback", task_id=3)
    [record] = captured.records
    assert record["level"] == "warning" and problem in record["msg"]
    assert d.pending == 0


async def test_logs_never_show_a_query_string_or_credentials(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    async with Receiver() as receiver:
        d = deliveries()
        url = receiver.url.replace("http://", "http://user:pw@") + "/hook?token=abc"
        d.submit(url, {}, what="callback", task_id=4)
        await d.drain(10)
    assert receiver.requests[0].path == "/hook?token=abc"
    text = captured.stream.getvalue()
    assert "abc" not in text and "pw" not in text
    assert captured.records[0]["url"] == receiver.url + "/hook"
