"""Callbacks (SPEC §6): POSTed to a real local receiver, retried with backoff, signed, drained;
refused when they lead to loopback, link-local or private addresses unless allowed."""

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
from ats.dispatch.destinations import Destinations, Policy
from ats.errors import InvalidInput

from .receiver import Receiver
from .samples import CapturedLog, make_task

MakeDeliveries = Callable[..., Deliveries]


@pytest.fixture
def captured() -> CapturedLog:
    return CapturedLog()


@pytest.fixture
async def deliveries(captured: CapturedLog) -> AsyncIterator[MakeDeliveries]:
    """Build ``Deliveries`` with fast backoff; all are closed after the test. The receivers
    listen on 127.0.0.1, so private destinations are allowed unless a test says otherwise."""
    made: list[Deliveries] = []
    local = Destinations(Policy(allow_private=True))

    def make(**options: Any) -> Deliveries:
        d = Deliveries(captured.log, **{"backoff": 0.01, "destinations": local, **options})
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
    shown = receiver.url.replace("http://", "http://user:***@") + "/hook"
    assert captured.records[0]["url"] == shown


# -- where a callback may lead ----------------------------------------------------------------

INTERNAL = b'{"AccessKeyId":"ASIA-internal","SecretAccessKey":"from-the-metadata-service"}'


def resolver(table: dict[str, list[str]], calls: list[str] | None = None) -> Any:
    """A DNS of our own: names that exist nowhere else, answers we choose."""

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return table[host]

    return resolve


async def test_a_loopback_callback_is_refused_and_its_answer_never_logged(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    async with Receiver(200, body=INTERNAL) as receiver:
        d = deliveries(destinations=Destinations())  # the default policy: public only
        assert d.submit(receiver.url + "/latest?token=abc", {}, what="callback", task_id=8)
        await d.drain(10)
    assert receiver.requests == []  # never contacted
    [record] = captured.records
    assert record["level"] == "error"
    assert record["msg"] == "callback refused: destination not allowed"
    assert record["url"] == receiver.url + "/latest"  # no query string
    assert "127.0.0.1" in record["why"] and "loopback" in record["why"]
    text = captured.stream.getvalue()
    assert "abc" not in text and "metadata-service" not in text


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.0.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[fd00::1]", "private"),
        ("[fe80::1]", "link-local"),
        ("localhost", "loopback"),
    ],
)
async def test_internal_destinations_are_refused(
    deliveries: MakeDeliveries, captured: CapturedLog, host: str, kind: str
) -> None:
    d = deliveries(destinations=Destinations(), attempts=5)
    d.submit(f"http://{host}:9/hook", {}, what="callback", task_id=2)
    await d.drain(10)
    [record] = captured.records  # refused once, not retried
    assert record["msg"] == "callback refused: destination not allowed"
    assert f"a {kind} address" in record["why"]


async def test_a_refusing_receiver_is_logged_by_status_without_its_body(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    async with Receiver(403, body=INTERNAL) as receiver:
        d = deliveries()
        d.submit(receiver.url + "/hook", {}, what="callback", task_id=6)
        await d.drain(10)
    [record] = captured.records
    assert record["msg"] == "callback refused, not retried" and record["status"] == 403
    assert "metadata-service" not in captured.stream.getvalue()


async def test_an_allowed_host_is_reached_at_the_address_that_was_checked(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    """``hooks.internal`` exists only in our resolver: the request can only arrive if it was
    sent to the address the check saw, with the name in the Host header."""
    async with Receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        dns = resolver({"hooks.internal": ["127.0.0.1"]})
        policy = Policy.of(False, ["hooks.internal"])
        d = deliveries(destinations=Destinations(policy, dns))
        d.submit(f"http://hooks.internal:{port}/cb", {"n": 1}, what="callback", task_id=3)
        await d.drain(10)
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.internal:{port}"
    assert request.path == "/cb" and request.json() == {"n": 1}
    assert captured.records[-1]["msg"] == "callback delivered"


async def test_an_allowed_network_lets_its_addresses_through(
    deliveries: MakeDeliveries,
) -> None:
    async with Receiver() as receiver:
        d = deliveries(destinations=Destinations(Policy.of(False, ["127.0.0.0/8"])))
        d.submit(receiver.url + "/cb", {}, what="callback", task_id=3)
        await d.drain(10)
    assert len(receiver.requests) == 1


async def test_a_name_that_rebinds_after_the_check_is_not_followed(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    """First answer public, later answers loopback (DNS rebinding): the one resolution that was
    checked is the one connected to, so the local receiver never hears from us."""
    calls: list[str] = []
    answers = iter([["198.18.0.1"], ["127.0.0.1"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    # 198.18/15 is not public either: allow that network only, as an operator might.
    policy = Policy.of(False, ["198.18.0.0/15"])
    async with Receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        d = deliveries(destinations=Destinations(policy, rebinding), attempts=1, timeout=0.5)
        d.submit(f"http://rebind.test:{port}/cb", {}, what="callback", task_id=4)
        await d.drain(10)
    assert receiver.requests == []
    assert calls == ["rebind.test"]  # resolved once for the attempt, not again to connect
    assert captured.records[-1]["msg"] == "callback gave up"


async def test_https_is_pinned_with_the_name_as_tls_server_name() -> None:
    dns = resolver({"hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    pinned = await Destinations(Policy(), dns).pin("https://hooks.example.com/cb?k=v")
    assert str(pinned.url) == "https://93.184.216.34/cb?k=v"
    assert pinned.headers["Host"] == "hooks.example.com"
    assert pinned.extensions == {"sni_hostname": "hooks.example.com"}
    plain = await Destinations(Policy(), dns).pin("http://hooks.example.com:8080/cb")
    assert str(plain.url) == "http://93.184.216.34:8080/cb"
    assert plain.headers == {"Host": "hooks.example.com:8080"} and plain.extensions == {}


async def test_one_internal_address_among_public_ones_is_enough_to_refuse(
    deliveries: MakeDeliveries, captured: CapturedLog
) -> None:
    dns = resolver({"mixed.test": ["93.184.216.34", "10.0.0.5"]})
    d = deliveries(destinations=Destinations(Policy(), dns))
    d.submit("http://mixed.test/cb", {}, what="callback", task_id=5)
    await d.drain(10)
    assert captured.records[-1]["why"] == "mixed.test resolves to 10.0.0.5, a private address"


def test_an_allowed_host_must_be_a_host_not_a_url() -> None:
    with pytest.raises(InvalidInput, match="not a URL"):
        Policy.of(False, ["http://hooks.internal/cb"])
    policy = Policy.of(False, ["Hooks.Internal.", "10.0.0.0/8", "::1", " "])
    assert policy.hosts == frozenset({"hooks.internal"})
    assert [str(n) for n in policy.networks] == ["10.0.0.0/8", "::1/128"]
