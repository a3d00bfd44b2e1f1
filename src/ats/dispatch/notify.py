"""Notifications when a task ends: a Telegram message and/or a generic webhook.

Both go through :class:`~ats.dispatch.callbacks.Deliveries`, so they are sent in the background
and retried like callbacks. ``payload.quiet`` silences the notifications of one task (its
callback, which someone explicitly asked for, is still sent).

The operator configures these addresses (``ATS_WEBHOOK_URL``, ``ATS_TELEGRAM_API``), so they are
trusted: they skip the check that keeps a *task's* callback URL off loopback and private networks
(a webhook receiver on the operator's own network is the normal case, and whoever can set the
dispatcher's environment can already run any command through it).

Webhook body: ``{"event": "task.completed" | "task.failed" | "task.rejected" | "task.blocked",
"task": {…the full task…}}``, signed with ``X-ATS-Signature`` when a webhook secret is set.
"""

from __future__ import annotations

from typing import Any, assert_never

from ats.dispatch.callbacks import Deliveries, shown
from ats.models import Status, Task

TELEGRAM_BASE_URL = "https://api.telegram.org"
BLOCKED_PREFIX = "Blocked: "  # the reason the server gives a dependent of a failed task (§2.2)

# event → (icon, verb); a task is "blocked" when it failed because a dependency did.
EVENTS: dict[str, tuple[str, str]] = {
    "task.completed": ("✅", "completed"),
    "task.failed": ("❌", "failed"),
    "task.rejected": ("🚫", "rejected"),
    "task.blocked": ("⛔", "blocked"),
}
_TITLE_MAX, _REASON_MAX = 200, 500  # one short line; Telegram refuses texts over 4096 chars


def event_for(task: Task) -> str | None:
    """The notification event for a task in its current status, or None if it has none."""
    match task.status:
        case Status.COMPLETED:
            return "task.completed"
        case Status.FAILED:
            blocked = (task.reason or "").startswith(BLOCKED_PREFIX)
            return "task.blocked" if blocked else "task.failed"
        case Status.REJECTED:
            return "task.rejected"
        case Status.PENDING | Status.IN_PROGRESS | Status.CANCELLED:
            # Cancelled is a person's own decision: nobody needs telling.
            return None
        case _:
            assert_never(task.status)


def is_quiet(payload: dict[str, Any]) -> bool:
    value = payload.get("quiet")
    if isinstance(value, str):
        # A shell user writes --payload '{"quiet":"false"}' as readily as false.
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())  # one line, whatever the title or reason holds
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_text(task: Task, event: str) -> str:
    """One short line for a person: ``✅ Task #12 completed: Build docs``."""
    icon, verb = EVENTS.get(event, ("🔔", event.removeprefix("task.")))
    text = f"{icon} Task #{task.id} {verb}: {_clip(task.title, _TITLE_MAX)}"
    reason = task.reason or ""
    if event == "task.blocked":
        reason = reason.removeprefix(BLOCKED_PREFIX)  # "blocked: … — Blocked: …" says it twice
    if reason and event != "task.completed":
        text += f" — {_clip(reason, _REASON_MAX)}"
    return text


class Notifier:
    """Sends each ended task to the configured channels; does nothing when none is configured."""

    def __init__(
        self,
        deliveries: Deliveries,
        *,
        telegram_token: str | None = None,
        telegram_chat_id: str | None = None,
        telegram_base_url: str = TELEGRAM_BASE_URL,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.deliveries = deliveries
        self.telegram: tuple[str, str] | None = None
        if telegram_token and telegram_chat_id:
            base = telegram_base_url.rstrip("/")
            self.telegram = (
                f"{base}/bot{telegram_token}/sendMessage",
                shown(f"{base}/bot***/sendMessage"),
            )
        elif telegram_token or telegram_chat_id:
            missing = "chat id" if telegram_token else "bot token"
            deliveries.log.warning(f"telegram notifications disabled: no {missing}")
        self.telegram_chat_id = telegram_chat_id
        self.webhook_url = webhook_url or None
        self.webhook_secret = webhook_secret or None

    @property
    def enabled(self) -> bool:
        return self.telegram is not None or self.webhook_url is not None

    def notify(self, task: Task, event: str | None = None) -> bool:
        """Schedule the notifications for ``task`` (``event`` defaults to :func:`event_for`).

        Returns whether anything was scheduled; never blocks, never raises for a bad channel.
        """
        event = event or event_for(task)
        if event is None or not self.enabled or is_quiet(task.payload):
            return False
        sent = False
        if self.telegram is not None:
            url, log_url = self.telegram
            body = {"chat_id": self.telegram_chat_id, "text": message_text(task, event)}
            # Unsigned: Telegram ignores the header and the secret is the webhook's, not its.
            sent |= self.deliveries.submit(
                url,
                body,
                what="telegram",
                task_id=task.id,
                secret=None,
                log_url=log_url,
                trusted=True,
            )
        if self.webhook_url is not None:
            sent |= self.deliveries.submit(
                self.webhook_url,
                {"event": event, "task": task.to_json()},
                what="webhook",
                task_id=task.id,
                secret=self.webhook_secret,
                trusted=True,
            )
        return sent
