"""Start a dispatcher: preflight (executor, server, keys), signals, run until stopped.

Preflight failures raise :class:`Preflight`; the CLI prints its one line and exits 2, so a
misconfigured systemd unit fails fast and visibly instead of looping on a traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from ats import redact
from ats.client import AsyncClient
from ats.config import DEFAULT_ACTOR, Settings
from ats.dispatch.callbacks import Deliveries
from ats.dispatch.destinations import Destinations
from ats.dispatch.executors import build
from ats.dispatch.logs import Log
from ats.dispatch.loop import Dispatcher
from ats.dispatch.notify import Notifier
from ats.dispatch.settings import DispatchSettings
from ats.dispatch.tasks_keys import KeyAccess
from ats.errors import AtsError, Unavailable
from ats.models import Actor, ActorType


class Preflight(Exception):
    """The dispatcher cannot start; the message says why, in one line."""


def dispatcher_actor(settings: Settings) -> Actor:
    """A configured identity, else one of its own (not the CLI's default ``claude-code``)."""
    if settings.actor != DEFAULT_ACTOR:
        return settings.actor
    return Actor(ActorType.AGENT, "ats-dispatch", "ATS Dispatcher")


def _watch_children_with_pidfds() -> None:
    """On Python 3.11 asyncio waits for each child in a thread of its own (one thread start per
    task, ~5 % of the dispatcher's time with a no-op command); a pidfd in the event loop does the
    same without threads. 3.12 chooses pidfds by itself."""
    if sys.version_info < (3, 12) and hasattr(os, "pidfd_open"):
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.get_event_loop_policy().set_child_watcher(watcher)


async def run(settings: DispatchSettings, client_settings: Settings, log: Log) -> dict[str, int]:
    try:
        executor = build(settings.executor, kill_grace=settings.kill_grace)
    except AtsError as exc:
        raise Preflight(exc.message) from None
    _watch_children_with_pidfds()
    keys = KeyAccess(settings.keyring)
    try:
        identity = keys.identity()
    except AtsError as exc:
        raise Preflight(exc.message) from None
    if settings.require_encryption and identity is None:
        raise Preflight(f"require_encryption is on but {keys.path} has no key pair (ats keys gen)")
    client = AsyncClient(
        client_settings.url, dispatcher_actor(client_settings), scope=client_settings.scope
    )
    try:
        try:
            await client.health()
        except Unavailable as exc:
            raise Preflight(exc.message) from None
        except AtsError as exc:
            server = redact.url(client.url)
            raise Preflight(f"the ATS server at {server} answered: {exc.message}") from None
        deliveries = Deliveries(
            log,
            secret=settings.callback_secret,
            attempts=settings.callback_attempts,
            destinations=Destinations(settings.callback_policy),
        )
        notifier = Notifier(
            deliveries,
            telegram_token=settings.telegram_token,
            telegram_chat_id=settings.telegram_chat_id,
            telegram_base_url=settings.telegram_api,
            webhook_url=settings.webhook_url,
            webhook_secret=settings.webhook_secret,
        )
        dispatcher = Dispatcher(
            client,
            settings,
            executor,
            log,
            deliveries=deliveries,
            notifier=notifier,
            keys=keys,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, dispatcher.stop)
        try:
            await dispatcher.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await deliveries.aclose()
            await executor.aclose()
        return dispatcher.worker.counts
    finally:
        await client.aclose()
