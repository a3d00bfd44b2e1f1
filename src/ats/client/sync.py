"""``Client``: the blocking SDK, made from ``AsyncClient`` without re-implementing anything.

How it avoids sync/async twins: the client owns a *portal*, a daemon thread running a private
event loop on which the one ``AsyncClient`` lives. Each public method of ``Client`` is a single
declaration, ``name = _blocking(AsyncClient.name)``, which submits the coroutine to that loop and
waits for its result; argument and return types are carried over by ``ParamSpec``, so
``Client.create_task`` type-checks exactly like ``AsyncClient.create_task``, returning ``Task``
instead of ``Awaitable[Task]``. Because the loop is private, ``Client`` also works inside code that
already runs an event loop (a notebook, an async framework's sync callback).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import httpx

from ats.client.async_client import AsyncClient
from ats.client.http import Trace
from ats.config import Settings
from ats.models import Actor

P = ParamSpec("P")
T = TypeVar("T")


class _Portal:
    """An event loop running forever in a daemon thread, accepting coroutines from others."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="ats-client", daemon=True
        )
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # interrupted (Ctrl-C): stop the coroutine on the loop as well
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Client, P], T]:
    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._portal.call(method(self._async, *args, **kwargs))

    call.__name__ = method.__name__
    call.__qualname__ = f"Client.{method.__name__}"
    call.__doc__ = method.__doc__
    return call


def _blocking_iter(
    method: Callable[Concatenate[AsyncClient, P], AsyncIterator[T]],
) -> Callable[Concatenate[Client, P], Iterator[T]]:
    """The same bridge for async iterators: each ``next()`` runs one step on the portal."""

    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        stream = method(self._async, *args, **kwargs)

        async def step() -> T:
            return await anext(stream)

        async def close() -> None:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(RuntimeError):  # still running after an interrupt
                    await aclose()

        try:
            while True:
                try:
                    yield self._portal.call(step())
                except StopAsyncIteration:
                    return
        finally:
            if not self._closed:
                self._portal.call(close())

    call.__name__ = method.__name__
    call.__qualname__ = f"Client.{method.__name__}"
    call.__doc__ = method.__doc__
    return call


class Client:
    """The blocking ATS SDK: ``with Client() as ats: ...``; see ``AsyncClient``.

    Without ``url``/``actor`` the settings come from the environment and config files, as for
    the CLI.
    """

    def __init__(
        self,
        url: str | None = None,
        actor: Actor | None = None,
        *,
        scope: tuple[str, str] | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        trace: Trace | None = None,
    ) -> None:
        self._portal = _Portal()

        async def build() -> AsyncClient:
            # httpx binds its connection pool to the loop it first runs on: build it there.
            return AsyncClient(
                url, actor, scope=scope, timeout=timeout, transport=transport, trace=trace
            )

        self._async = self._portal.call(build())
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Self:
        return cls(settings.url, settings.actor, scope=settings.scope, **kwargs)

    @property
    def url(self) -> str:
        return self._async.url

    @property
    def scope(self) -> tuple[str, str] | None:
        return self._async.scope

    @property
    def actor(self) -> Actor:
        return self._async.actor

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._portal.call(self._async.aclose())
            self._portal.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    request = _blocking(AsyncClient.request)
    health = _blocking(AsyncClient.health)
    stats = _blocking(AsyncClient.stats)
    event_log = _blocking(AsyncClient.event_log)
    latest_event_id = _blocking(AsyncClient.latest_event_id)
    events = _blocking_iter(AsyncClient.events)
    create_task = _blocking(AsyncClient.create_task)
    bulk_create = _blocking(AsyncClient.bulk_create)
    list_tasks = _blocking(AsyncClient.list_tasks)
    iter_tasks = _blocking_iter(AsyncClient.iter_tasks)
    get_task = _blocking(AsyncClient.get_task)
    update_task = _blocking(AsyncClient.update_task)
    delete_task = _blocking(AsyncClient.delete_task)
    claim = _blocking(AsyncClient.claim)
    claim_next = _blocking(AsyncClient.claim_next)
    complete = _blocking(AsyncClient.complete)
    complete_many = _blocking(AsyncClient.complete_many)
    fail = _blocking(AsyncClient.fail)
    reject = _blocking(AsyncClient.reject)
    reopen = _blocking(AsyncClient.reopen)
    cancel = _blocking(AsyncClient.cancel)
    release = _blocking(AsyncClient.release)
    add_message = _blocking(AsyncClient.add_message)
    list_messages = _blocking(AsyncClient.list_messages)
    list_orgs = _blocking(AsyncClient.list_orgs)
    create_org = _blocking(AsyncClient.create_org)
    get_org = _blocking(AsyncClient.get_org)
    update_org = _blocking(AsyncClient.update_org)
    list_projects = _blocking(AsyncClient.list_projects)
    create_project = _blocking(AsyncClient.create_project)
    get_project = _blocking(AsyncClient.get_project)
    update_project = _blocking(AsyncClient.update_project)
    feed_publish = _blocking(AsyncClient.feed_publish)
    feed_list = _blocking(AsyncClient.feed_list)
    feed_get = _blocking(AsyncClient.feed_get)
    feed_clear = _blocking(AsyncClient.feed_clear)
    feed_stats = _blocking(AsyncClient.feed_stats)
    feed_export = _blocking(AsyncClient.feed_export)
    feed_import = _blocking(AsyncClient.feed_import)
    feed_stream = _blocking_iter(AsyncClient.feed_stream)
