"""Notifications (SPEC §6): Telegram and a generic webhook, against a real local receiver."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

import pytest

from ats.dispatch.callbacks import SIGNATURE_HEADER, Deliveries
from ats.dispatch.destinations import Destinations, Policy
from ats.dispatch.notify import Notifier, event_for, is_quiet, message_text

from .receiver import Receiver
from .samples import CapturedLog, make_task

TOKEN = "123456:ABC-secret-token"


@pytest.fixture
def captured() -> CapturedLog:
    return CapturedLog()


@pytest.fixture
async def deliveries(captured: CapturedLog) -> AsyncIterator[Deliveries]:
    # A callback secret is set on purpose: it must not leak into Telegram requests. The default
    # callback policy (public addresses only) on purpose too: the receivers listen on 127.0.0.1,
    # and notification targets, chosen by the operator, are not held to it.
    d = Deliveries(captured.log, secret="callback-secret", backoff=0.01)
    yield d
    await d.aclose()


async def test_telegram_message_reaches_the_bot_api(
    deliveries: Deliveries, captured: CapturedLog
) -> None:
    async with Receiver() as api:
        notifier = Notifier(
            deliveries,
            telegram_token=TOKEN,
            telegram_chat_id="-1001234",
            telegram_base_url=api.url + "/",
        )
        assert notifier.enabled
        assert notifier.notify(make_task(12, status="completed", title="Build docs"))
        await deliveries.drain(10)
    [request] = api.requests
    assert request.method == "POST"
    assert request.path == f"/bot{TOKEN}/sendMessage"
    assert request.json() == {"chat_id": "-1001234", "text": "✅ Task #12 completed: Build docs"}
    assert SIGNATURE_HEADER.lower() not in request.headers
    assert TOKEN not in captured.stream.getvalue()  # the bot token never reaches the log
    assert captured.records[-1]["msg"] == "telegram delivered"


async def test_telegram_retries_a_server_error(deliveries: Deliveries) -> None:
    async with Receiver(502) as api:
        notifier = Notifier(
            deliveries, telegram_token=TOKEN, telegram_chat_id="42", telegram_base_url=api.url
        )
        notifier.notify(make_task(3, status="failed", reason="boom"))
        await deliveries.drain(10)
    assert len(api.requests) == 2
    assert api.requests[-1].json()["text"] == "❌ Task #3 failed: Build docs — boom"


async def test_webhook_gets_the_event_and_the_full_task_signed(deliveries: Deliveries) -> None:
    task = make_task(7, status="rejected", reason="out of scope", payload={"k": "v"})
    async with Receiver() as hook:
        notifier = Notifier(deliveries, webhook_url=hook.url + "/ats", webhook_secret="wh-secret")
        assert notifier.notify(task)
        await deliveries.drain(10)
    [request] = hook.requests
    assert request.path == "/ats"
    assert request.json() == {"event": "task.rejected", "task": task.to_json()}
    expected = "sha256=" + hmac.new(b"wh-secret", request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers[SIGNATURE_HEADER.lower()], expected)


async def test_webhook_without_its_secret_is_unsigned(deliveries: Deliveries) -> None:
    async with Receiver() as hook:
        Notifier(deliveries, webhook_url=hook.url).notify(make_task(1), "task.completed")
        await deliveries.drain(10)
    assert SIGNATURE_HEADER.lower() not in hook.requests[0].headers


async def test_both_channels_and_a_blocked_task(deliveries: Deliveries) -> None:
    blocked = make_task(
        14, status="failed", title="Publish", reason="Blocked: dependency #12 (failed)"
    )
    async with Receiver() as server:
        notifier = Notifier(
            deliveries,
            telegram_token=TOKEN,
            telegram_chat_id="42",
            telegram_base_url=server.url,
            webhook_url=server.url + "/hook",
        )
        notifier.notify(blocked)
        await deliveries.drain(10)
    by_path = {r.path: r.json() for r in server.requests}
    assert by_path[f"/bot{TOKEN}/sendMessage"]["text"] == (
        "⛔ Task #14 blocked: Publish — dependency #12 (failed)"
    )
    assert by_path["/hook"]["event"] == "task.blocked"


async def test_the_operators_webhook_may_be_local_a_tasks_callback_may_not(
    deliveries: Deliveries, captured: CapturedLog
) -> None:
    async with Receiver() as hook:
        Notifier(deliveries, webhook_url=hook.url + "/ats").notify(make_task(1), "task.completed")
        deliveries.submit(hook.url + "/ats", {"task_id": 1}, what="callback", task_id=1)
        await deliveries.drain(10)
    assert len(hook.requests) == 1
    outcome = {r["msg"] for r in captured.records}
    assert outcome == {"webhook delivered", "callback refused: destination not allowed"}


@pytest.mark.parametrize("quiet", [True, 1, "yes", "true"])
async def test_quiet_suppresses_notifications(captured: CapturedLog, quiet: object) -> None:
    deliveries = Deliveries(captured.log, destinations=Destinations(Policy(allow_private=True)))
    async with Receiver() as server:
        notifier = Notifier(
            deliveries,
            telegram_token=TOKEN,
            telegram_chat_id="42",
            telegram_base_url=server.url,
            webhook_url=server.url + "/hook",
        )
        assert not notifier.notify(make_task(5, payload={"quiet": quiet}))
        # ... but not the task's own callback, which someone asked for explicitly
        deliveries.submit(server.url + "/cb", {"task_id": 5}, what="callback", task_id=5)
        await deliveries.drain(10)
        await deliveries.aclose()
    assert [r.path for r in server.requests] == ["/cb"]


def test_quiet_values() -> None:
    assert not is_quiet({})
    assert not is_quiet({"quiet": False})
    assert not is_quiet({"quiet": "false"})
    assert not is_quiet({"quiet": "0"})
    assert is_quiet({"quiet": "on"})


def test_which_endings_notify() -> None:
    assert event_for(make_task(status="completed")) == "task.completed"
    assert event_for(make_task(status="failed", reason="x")) == "task.failed"
    assert event_for(make_task(status="failed", reason="Blocked: dependency #1 (cancelled)")) == (
        "task.blocked"
    )
    assert event_for(make_task(status="rejected")) == "task.rejected"
    for status in ("pending", "in_progress", "cancelled"):
        assert event_for(make_task(status=status)) is None


def test_message_is_one_short_line() -> None:
    task = make_task(9, status="failed", title="Long\ntitle " + "x" * 500, reason="a\nb")
    text = message_text(task, "task.failed")
    assert "\n" not in text
    assert text.startswith("❌ Task #9 failed: Long title xxx")
    assert text.endswith(" — a b")
    assert len(text) < 300


async def test_nothing_configured_means_nothing_sent(
    deliveries: Deliveries, captured: CapturedLog
) -> None:
    notifier = Notifier(deliveries)
    assert not notifier.enabled
    assert not notifier.notify(make_task(1))
    half = Notifier(deliveries, telegram_token=TOKEN)  # no chat id: disabled, and said so
    assert not half.enabled
    assert captured.records[-1]["msg"] == "telegram notifications disabled: no chat id"
    assert TOKEN not in captured.stream.getvalue()
