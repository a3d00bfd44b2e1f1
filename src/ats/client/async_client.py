"""``AsyncClient``: every SPEC §3 operation as one typed coroutine method.

Routing choice: a client built with a project scope (``scope=("org", "proj")``, which is what
``Settings.scope`` gives when an organization or project was configured anywhere) uses the
``/orgs/{org}/projects/{project}/tasks…`` routes for every task call, so it only ever sees that
project. A client without a scope uses the unscoped ``/tasks…`` routes: creates land in the default
project ``default/main`` and list / stats span all projects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypedDict

import httpx
from typing_extensions import Unpack

from ats.client.feed import FeedMethods
from ats.client.http import Connection, Trace, capture_json
from ats.client.projects import JSON, OrgsAndProjects, drop_none, seg
from ats.client.stream import EventFilters, EventGap, EventStream, follow, names
from ats.config import Settings, load_settings
from ats.models import Actor, Event, Message, Task


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: list[Task]
    count: int  # total matching the filters, not len(tasks)
    count_capped: bool = False  # counting stopped at 10,000: `count` is a lower bound
    next: str | None = None  # the cursor of the next page; None on the last one


class TaskFilters(TypedDict, total=False):
    """The filters of :meth:`AsyncClient.list_tasks` that :meth:`AsyncClient.iter_tasks` takes."""

    status: str | None
    type: str | None
    channel: str | None
    assignee_id: str | None
    priority: int | None
    min_priority: int | None
    max_priority: int | None
    search: str | None
    created_after: str | None
    updated_after: str | None
    sort_by: str | None
    sort_dir: str | None
    limit: int | None
    project_id: str | None


class AsyncClient(OrgsAndProjects, FeedMethods):
    """The ATS SDK. Use as ``async with AsyncClient(url, actor) as ats: ...``."""

    capture_json = staticmethod(capture_json)

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
        if url is None or actor is None:
            # Like the CLI: flags (none here) > env > .ats/config up the tree > ~/.ats/config.
            settings = load_settings()
            if url is None:
                url, scope = settings.url, scope if scope is not None else settings.scope
            actor = actor or settings.actor
        self.scope = scope
        self._conn = Connection(url, actor, timeout=timeout, transport=transport, trace=trace)
        base = "/tasks"
        if scope is not None:
            base = f"/orgs/{seg(scope[0])}/projects/{seg(scope[1])}/tasks"
        self._tasks = base
        self._root = base.removesuffix("/tasks")

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Self:
        return cls(settings.url, settings.actor, scope=settings.scope, **kwargs)

    @property
    def url(self) -> str:
        return self._conn.url

    @property
    def actor(self) -> Actor:
        return self._conn.actor

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._conn.aclose()

    async def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Escape hatch: any route, raw JSON answer, same headers and error mapping."""
        return await self._conn.request(method, path, json=json, params=params)

    def _task(self, task_id: int, action: str = "") -> str:
        return f"{self._tasks}/{int(task_id)}" + (f"/{action}" if action else "")

    async def _task_call(self, method: str, path: str, body: Any = None) -> Task:
        return Task.from_json(await self._conn.request(method, path, json=body))

    # -- service -----------------------------------------------------------------------------

    async def health(self) -> JSON:
        result: JSON = await self._conn.request("GET", "/health")
        return result

    async def stats(self) -> JSON:
        body = await self._conn.request("GET", f"{self._tasks}/stats")
        result: JSON = body["stats"]
        return result

    async def event_log(
        self,
        since: int | None = None,
        limit: int | None = None,
        *,
        channel: str | None = None,
        type: str | None = None,
        event: str | None = None,
    ) -> list[Event]:
        """One page of the event log after ``since`` (GET /events); see :meth:`events` for live."""
        params = drop_none(since=since, limit=limit, channel=channel, type=type, event=event)
        body = await self._conn.request("GET", f"{self._root}/events", params=params)
        return [Event.from_json(e) for e in body["events"]]

    async def latest_event_id(self) -> int:
        """The id up to which the event log is complete (a live reader starts after it)."""
        body = await self._conn.request("GET", f"{self._root}/events/latest")
        return int(body["id"])

    def events(
        self,
        *,
        channels: Iterable[str] | None = None,
        task_types: Iterable[str] | None = None,
        event_types: Iterable[str] | None = None,
        since: int | None = None,
        reconnect: bool = True,
        on_connect: Callable[[int], None] | None = None,
        on_disconnect: Callable[[str, float], None] | None = None,
        on_gap: Callable[[EventGap], None] | None = None,
    ) -> EventStream:
        """Live events, forever: ``async with ats.events(channels=["ops"]) as stream:
        async for event in stream: ...`` (``async for`` directly works too; closing the stream
        when leaving the loop early releases the connection at once).

        Filters are exact matches (absent = everything). With ``since`` the server first replays
        the log after that event id. After a disconnect the stream reconnects with backoff and
        resumes after the last event it yielded: none is lost, none comes twice. A scoped client
        only sees its project's events. ``on_connect(after_event_id)`` is called each time the
        subscription is in place, ``on_disconnect(reason, delay_s)`` each time it is lost.

        When the server no longer keeps the events after the resume point (event log
        retention), the stream calls ``on_gap(gap)`` — or, without it, issues an
        ``EventGapWarning`` — naming how many events were missed at most, and goes on from the
        oldest event kept.
        """
        filters = EventFilters(
            names(channels),
            names(task_types),
            names(event_types),
            f"{self.scope[0]}/{self.scope[1]}" if self.scope else None,
        )
        return EventStream(
            follow(
                self._conn.url,
                self._conn.actor,
                filters,
                since=since,
                latest=self.latest_event_id,
                reconnect=reconnect,
                on_connect=on_connect,
                on_disconnect=on_disconnect,
                on_gap=on_gap,
            )
        )

    # -- tasks -------------------------------------------------------------------------------

    async def create_task(
        self,
        title: str,
        *,
        description: str | None = None,
        type: str | None = None,
        channel: str | None = None,
        priority: int | None = None,
        payload: JSON | None = None,
        depends_on: Sequence[int] | None = None,
        max_attempts: int | None = None,
    ) -> Task:
        body = drop_none(
            title=title,
            description=description,
            type=type,
            channel=channel,
            priority=priority,
            payload=payload,
            depends_on=list(depends_on) if depends_on is not None else None,
            max_attempts=max_attempts,
        )
        return await self._task_call("POST", self._tasks, body)

    async def bulk_create(self, tasks: Sequence[JSON]) -> list[Task]:
        """Create up to 1000 tasks from create bodies, all or nothing."""
        body = await self._conn.request("POST", f"{self._tasks}/bulk", json={"tasks": list(tasks)})
        return [Task.from_json(t) for t in body["tasks"]]

    async def list_tasks(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        channel: str | None = None,
        assignee_id: str | None = None,
        priority: int | None = None,
        min_priority: int | None = None,
        max_priority: int | None = None,
        search: str | None = None,
        created_after: str | None = None,
        updated_after: str | None = None,
        sort_by: str | None = None,
        sort_dir: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        project_id: str | None = None,
        cursor: str | None = None,
    ) -> TaskPage:
        """Tasks matching every given filter; ``status=None`` means any status.

        ``cursor`` is a previous page's ``next``: the page after it, with the same filters.
        """
        params = drop_none(
            status=status,
            type=type,
            channel=channel,
            assignee_id=assignee_id,
            priority=priority,
            min_priority=min_priority,
            max_priority=max_priority,
            search=search,
            created_after=created_after,
            updated_after=updated_after,
            sort_by=sort_by,
            sort_dir=sort_dir,
            limit=limit,
            offset=offset,
            project_id=project_id,
            cursor=cursor,
        )
        body = await self._conn.request("GET", self._tasks, params=params)
        tasks = [Task.from_json(t) for t in body["tasks"]]
        return TaskPage(
            tasks,
            int(body.get("count", len(tasks))),
            bool(body.get("count_capped", False)),
            body.get("next"),
        )

    async def iter_tasks(self, **filters: Unpack[TaskFilters]) -> AsyncIterator[TaskPage]:
        """Every page of :meth:`list_tasks` (same filters but ``offset``), following ``next``
        (keyset pagination): each task that matches throughout is yielded once, even while
        others are created meanwhile."""
        cursor: str | None = None
        while True:
            page = await self.list_tasks(**filters, cursor=cursor)
            yield page
            if page.next is None:
                return
            cursor = page.next

    async def get_task(self, task_id: int) -> Task:
        """The task with its ``messages``."""
        return await self._task_call("GET", self._task(task_id))

    async def update_task(
        self,
        task_id: int,
        *,
        title: str | None = None,
        description: str | None = None,
        priority: int | None = None,
        status: str | None = None,
        type: str | None = None,
        channel: str | None = None,
        payload: JSON | None = None,
    ) -> Task:
        body = drop_none(
            title=title,
            description=description,
            priority=priority,
            status=status,
            type=type,
            channel=channel,
            payload=payload,
        )
        return await self._task_call("PATCH", self._task(task_id), body)

    async def delete_task(self, task_id: int) -> None:
        await self._conn.request("DELETE", self._task(task_id))

    # -- lifecycle ---------------------------------------------------------------------------

    async def claim(
        self, task_id: int, *, lease_ms: int | None = None, lease_token: int | None = None
    ) -> Task:
        """Claim a pending task, or renew the lease on one this actor already holds."""
        body = drop_none(lease_duration=lease_ms, lease_token=lease_token)
        return await self._task_call("POST", self._task(task_id, "claim"), body)

    async def claim_next(
        self,
        *,
        channel: str | None = None,
        type: str | None = None,
        lease_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Task]:
        """Atomically claim the most urgent claimable tasks; ``[]`` when there are none."""
        body = drop_none(channel=channel, type=type, lease_duration=lease_ms, limit=limit)
        answer = await self._conn.request("POST", f"{self._tasks}/claim", json=body)
        return [Task.from_json(t) for t in answer["tasks"]]

    async def complete(
        self, task_id: int, outputs: Any = None, *, lease_token: int | None = None
    ) -> Task:
        body = drop_none(outputs=outputs, lease_token=lease_token)
        return await self._task_call("POST", self._task(task_id, "complete"), body)

    async def complete_many(self, items: Sequence[JSON]) -> tuple[list[Task], list[JSON]]:
        """Complete up to 100 tasks in one call (extension): items are ``{"id", "outputs"?,
        "lease_token"?}``. Returns the completed tasks and one error object per refused item."""
        body = await self._conn.request(
            "POST", f"{self._tasks}/complete", json={"tasks": list(items)}
        )
        return [Task.from_json(t) for t in body["tasks"]], list(body["errors"])

    async def fail(
        self, task_id: int, reason: str | None = None, *, lease_token: int | None = None
    ) -> Task:
        body = drop_none(reason=reason, lease_token=lease_token)
        return await self._task_call("POST", self._task(task_id, "fail"), body)

    async def reject(self, task_id: int, reason: str | None = None) -> Task:
        return await self._task_call(
            "POST", self._task(task_id, "reject"), drop_none(reason=reason)
        )

    async def reopen(self, task_id: int, reason: str | None = None) -> Task:
        return await self._task_call(
            "POST", self._task(task_id, "reopen"), drop_none(reason=reason)
        )

    async def cancel(self, task_id: int) -> Task:
        # No body at all: the reference server accepts exactly that (SPEC §3).
        return await self._task_call("POST", self._task(task_id, "cancel"))

    async def release(
        self,
        task_id: int,
        *,
        delay_ms: int | None = None,
        reason: str | None = None,
        lease_token: int | None = None,
        refund_attempt: bool = False,
    ) -> Task:
        """Give an in-progress task back (pending again, optionally after ``delay_ms``);
        ``refund_attempt`` un-counts the claim's attempt (the work was not really tried)."""
        body = drop_none(
            delay_ms=delay_ms,
            reason=reason,
            lease_token=lease_token,
            refund_attempt=refund_attempt or None,
        )
        return await self._task_call("POST", self._task(task_id, "release"), body)

    # -- messages ----------------------------------------------------------------------------

    async def add_message(
        self,
        task_id: int,
        text: str | None = None,
        *,
        parts: Sequence[JSON] | None = None,
        type: str = "text",
    ) -> Message:
        """Post ``text`` (or ready-made ``parts``) on the task's thread."""
        if parts is None:
            if text is None:
                raise ValueError("add_message needs text or parts")
            parts = [{"type": type, "content": text}]
        body = await self._conn.request(
            "POST", self._task(task_id, "messages"), json={"parts": list(parts)}
        )
        return Message.from_json(body)

    async def list_messages(self, task_id: int) -> list[Message]:
        body = await self._conn.request("GET", self._task(task_id, "messages"))
        return [Message.from_json(m) for m in body["messages"]]
