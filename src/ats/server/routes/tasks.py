"""Task routes (SPEC §3), mounted twice: at ``/`` and at ``/orgs/{org}/projects/{project}``."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request

from ats import lifecycle as lc
from ats.errors import AtsError, InvalidInput
from ats.models import Millis, Status, parse_iso
from ats.server import cursor as cursors
from ats.server import wire
from ats.server.body import JsonRoute
from ats.server.deps import TaskIdPath, context
from ats.server.responses import JSON
from ats.server.schemas import (
    BulkCreate,
    ClaimBody,
    ClaimNextBody,
    CompleteBody,
    CompleteMany,
    CreateTask,
    MessageBody,
    ReasonBody,
    ReleaseBody,
    UpdateTask,
)
from ats.store import TaskQuery
from ats.store.base import SORT_COLUMNS

router = APIRouter(tags=["tasks"], route_class=JsonRoute)
_STATUSES = ", ".join(s.value for s in Status)
_PRIORITY = {"minimum": 1, "maximum": 10}
_TIME = "ISO-8601 time (naive = UTC) or epoch milliseconds, exclusive"
_PROJECT_PATH = re.compile(r"[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)?")


def _statuses(text: str | None) -> tuple[Status, ...]:
    if not text or text == "all":
        return ()
    out = []
    for item in text.split(","):
        try:
            out.append(Status(item.strip()))
        except ValueError:
            raise InvalidInput(
                f"status: unknown status {item.strip()!r} (expected one of {_STATUSES})",
                field="status",
            ) from None
    return tuple(out)


def _time(name: str, text: str | None) -> Millis | None:
    if text is None or text == "":
        return None
    if _is_id(text):
        return Millis(int(text))
    try:
        return parse_iso(text)
    except ValueError:
        raise InvalidInput(f"{name}: not an ISO-8601 time: {text!r}", field=name) from None


def _is_id(text: str) -> bool:
    """ASCII digits within 63 bits (``str.isdigit`` also takes "²", which ``int`` refuses)."""
    return text.isascii() and text.isdigit() and int(text) < 2**63


def _int_range(name: str, value: int | None, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"{name}: must be between {low} and {high}", field=name)


@router.get("/tasks", summary="List tasks", responses=wire.answers(wire.TaskPage))
async def list_tasks(
    request: Request,
    status: Annotated[
        str | None,
        Query(description=f"Comma-separated statuses ({_STATUSES}); absent or `all`: every one"),
    ] = None,
    type: Annotated[str | None, Query(description="Task type, exact match")] = None,
    channel: Annotated[str | None, Query(description="Channel, exact match")] = None,
    assignee_id: Annotated[str | None, Query(description="Assignee's actor id")] = None,
    priority: Annotated[
        int | None, Query(description="Exactly this priority", json_schema_extra=_PRIORITY)
    ] = None,
    min_priority: Annotated[
        int | None, Query(description="At least this priority", json_schema_extra=_PRIORITY)
    ] = None,
    max_priority: Annotated[
        int | None, Query(description="At most this priority", json_schema_extra=_PRIORITY)
    ] = None,
    search: Annotated[
        str | None, Query(max_length=500, description="Substring of the title or description")
    ] = None,
    created_after: Annotated[str | None, Query(description=f"Created after: {_TIME}")] = None,
    updated_after: Annotated[str | None, Query(description=f"Updated after: {_TIME}")] = None,
    sort_by: Annotated[
        str, Query(description="Sort key", json_schema_extra={"enum": list(SORT_COLUMNS)})
    ] = "created_at",
    sort_dir: Annotated[
        str, Query(description="Sort direction", json_schema_extra={"enum": ["asc", "desc"]})
    ] = "desc",
    limit: Annotated[
        int,
        Query(description="Page size; above 1000 means 1000", json_schema_extra={"minimum": 1}),
    ] = 50,
    offset: Annotated[
        int, Query(description="Tasks to skip", json_schema_extra={"minimum": 0})
    ] = 0,
    cursor: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Continue after the page that answered this `next` (same filters and "
            "sort; not with `offset`). As fast on page 10,000 as on page 1.",
        ),
    ] = None,
    project_id: Annotated[
        str | None,
        Query(
            description="Only this project: `org/project` (`org` alone: `org/main`) or its "
            "numeric id. Ignored on the project-scoped route."
        ),
    ] = None,
) -> JSON:
    svc, scope, _ = await context(request)
    for name, value in (("priority", priority), ("min_priority", min_priority),
                        ("max_priority", max_priority)):  # fmt: skip
        _int_range(name, value, 1, 10)
    if limit < 1:
        raise InvalidInput("limit: must be between 1 and 1000", field="limit")
    if not 0 <= offset < 2**63:
        raise InvalidInput("offset: must be between 0 and 2^63-1", field="offset")
    if sort_by not in SORT_COLUMNS:
        raise InvalidInput(
            f"sort_by: unknown field {sort_by!r} (expected one of {', '.join(SORT_COLUMNS)})",
            field="sort_by",
        )
    if sort_dir.lower() not in ("asc", "desc"):
        raise InvalidInput("sort_dir: must be asc or desc", field="sort_dir")
    pid = scope.project_id
    if project_id and pid is None:
        if _is_id(project_id):
            pid = int(project_id)
        elif _PROJECT_PATH.fullmatch(project_id):
            org, _, proj = project_id.partition("/")
            pid = (await svc.scope(org, proj or "main")).project_id
        else:
            raise InvalidInput(
                f"project_id: expected a project id or 'org/project', got {project_id[:60]!r}",
                field="project_id",
            )
    query = TaskQuery(
        project_id=pid,
        statuses=_statuses(status),
        type=type,
        channel=channel,
        assignee_id=assignee_id,
        priority=priority,
        min_priority=min_priority,
        max_priority=max_priority,
        search=search,
        created_after=_time("created_after", created_after),
        updated_after=_time("updated_after", updated_after),
        sort_by=sort_by,
        descending=sort_dir.lower() == "desc",
        limit=min(limit, 1000),
        offset=offset,
    )
    if cursor:
        if offset:
            raise InvalidInput("cursor: not with offset (the cursor says where)", field="cursor")
        query = dataclasses.replace(query, after=cursors.decode(cursor, query))
    tasks, more = await svc.list_tasks(query)
    count, capped = await svc.count_tasks(query)
    body: dict[str, object] = {"tasks": [t.to_json() for t in tasks], "count": count}
    if capped:
        body["count_capped"] = True
    if more and tasks:
        body["next"] = cursors.encode(query, tasks[-1])
    return JSON(body)


@router.post(
    "/tasks",
    status_code=201,
    summary="Create a task",
    responses=wire.answers(wire.Task, status=201),
)
async def create_task(body: CreateTask, request: Request) -> JSON:
    svc, scope, actor = await context(request)
    [task] = await svc.create(scope, [body.to_new()], actor)
    return JSON(task.to_json(), status_code=201)


@router.post(
    "/tasks/bulk",
    status_code=201,
    summary="Create up to 1000 tasks, all or nothing",
    responses=wire.answers(wire.TaskList, status=201),
)
async def bulk_create(body: BulkCreate, request: Request) -> JSON:
    svc, scope, actor = await context(request)
    tasks = await svc.create(scope, [t.to_new() for t in body.tasks], actor)
    return JSON({"tasks": [t.to_json() for t in tasks]}, status_code=201)


@router.post(
    "/tasks/claim",
    summary="Claim the best claimable tasks (claim-next)",
    responses=wire.answers(wire.TaskList),
)
async def claim_next(request: Request, body: ClaimNextBody | None = None) -> JSON:
    svc, scope, actor = await context(request)
    b = body or ClaimNextBody()
    tasks = await svc.claim_next(scope, b.channel, b.type, b.lease_duration, b.limit, actor)
    return JSON({"tasks": [t.to_json() for t in tasks]})


@router.post(
    "/tasks/complete",
    summary="Complete up to 100 claimed tasks in one call (extension)",
    responses=wire.answers(wire.CompletedMany),
)
async def complete_many(body: CompleteMany, request: Request) -> JSON:
    """Each item succeeds or fails on its own: ``tasks`` holds the completed tasks, ``errors``
    one ``{"id", "error", "code"}`` per refused item (a stale lease, another holder, …)."""
    svc, scope, actor = await context(request)
    items: list[tuple[int, lc.Action]] = [
        (i.id, lc.Complete(i.outputs, i.lease_token)) for i in body.tasks
    ]
    results = await svc.act_many(scope, items, actor)
    done = [r.to_json() for r in results if not isinstance(r, AtsError)]
    errors = [
        {"id": item.id, **r.to_json()}
        for item, r in zip(body.tasks, results, strict=True)
        if isinstance(r, AtsError)
    ]
    return JSON({"tasks": done, "errors": errors})


@router.get(
    "/tasks/stats",
    summary="Counts by status and channel, completion times",
    responses=wire.answers(wire.StatsAnswer),
)
async def stats(request: Request) -> JSON:
    svc, scope, _ = await context(request)
    return JSON({"stats": await svc.stats(scope)})


@router.get(
    "/tasks/{task_id}",
    summary="A task with its messages",
    responses=wire.answers(wire.TaskWithMessages),
)
async def get_task(task_id: TaskIdPath, request: Request) -> JSON:
    svc, scope, _ = await context(request)
    return JSON((await svc.get(scope, task_id)).to_json())


@router.patch(
    "/tasks/{task_id}",
    summary="Update fields, status included",
    responses=wire.answers(wire.Task, 409),
)
async def update_task(task_id: TaskIdPath, body: UpdateTask, request: Request) -> JSON:
    svc, scope, actor = await context(request)
    sent = body.model_fields_set
    if "depends_on" in sent:
        await svc.set_dependencies(scope, task_id, list(body.depends_on or []), actor)
    fields = sent - {"depends_on"}
    for name in ("title", "priority", "status", "type", "channel", "payload"):
        if name in fields and getattr(body, name) is None:
            raise InvalidInput(f"{name}: must not be null", field=name)
    if fields or "depends_on" not in sent:
        update = lc.Update(
            title=body.title,
            description=body.description,
            priority=body.priority,
            status=body.status,
            type=body.type,
            channel=body.channel,
            payload=body.payload,
            clear_description="description" in sent and body.description is None,
        )
        task = await svc.act(scope, task_id, update, actor)
    else:
        # Dependencies only: the task as every other PATCH answers it, without its messages.
        task = dataclasses.replace(await svc.get(scope, task_id), messages=None)
    return JSON(task.to_json())


@router.delete(
    "/tasks/{task_id}", summary="Delete a task", responses=wire.answers(wire.Deleted, 409)
)
async def delete_task(task_id: TaskIdPath, request: Request) -> JSON:
    svc, scope, actor = await context(request)
    await svc.delete(scope, task_id, actor)
    return JSON({"deleted": True, "id": task_id})


@router.post(
    "/tasks/{task_id}/claim",
    summary="Claim, or renew the lease you hold",
    responses=wire.answers(wire.Task, 409),
)
async def claim(task_id: TaskIdPath, request: Request, body: ClaimBody | None = None) -> JSON:
    svc, scope, actor = await context(request)
    b = body or ClaimBody()
    task = await svc.act(scope, task_id, lc.Claim(b.lease_duration, b.lease_token), actor)
    return JSON(task.to_json())


@router.post(
    "/tasks/{task_id}/complete",
    summary="Complete with outputs",
    responses=wire.answers(wire.Task, 409),
)
async def complete(task_id: TaskIdPath, request: Request, body: CompleteBody | None = None) -> JSON:
    svc, scope, actor = await context(request)
    b = body or CompleteBody()
    task = await svc.act(scope, task_id, lc.Complete(b.outputs, b.lease_token), actor)
    return JSON(task.to_json())


@router.post(
    "/tasks/{task_id}/fail",
    summary="Fail with a reason",
    responses=wire.answers(wire.Task, 409),
)
async def fail(task_id: TaskIdPath, request: Request, body: ReasonBody | None = None) -> JSON:
    svc, scope, actor = await context(request)
    b = body or ReasonBody()
    task = await svc.act(scope, task_id, lc.Fail(b.reason, b.lease_token), actor)
    return JSON(task.to_json())


@router.post(
    "/tasks/{task_id}/reject",
    summary="Reject with a reason",
    responses=wire.answers(wire.Task, 409),
)
async def reject(task_id: TaskIdPath, request: Request, body: ReasonBody | None = None) -> JSON:
    svc, scope, actor = await context(request)
    b = body or ReasonBody()
    return JSON((await svc.act(scope, task_id, lc.Reject(b.reason), actor)).to_json())


@router.post(
    "/tasks/{task_id}/reopen",
    summary="Reopen a finished task",
    responses=wire.answers(wire.Task, 409),
)
async def reopen(task_id: TaskIdPath, request: Request, body: ReasonBody | None = None) -> JSON:
    svc, scope, actor = await context(request)
    b = body or ReasonBody()
    return JSON((await svc.act(scope, task_id, lc.Reopen(b.reason), actor)).to_json())


@router.post(
    "/tasks/{task_id}/cancel",
    summary="Cancel (no body needed)",
    responses=wire.answers(wire.Task, 409),
)
async def cancel(task_id: TaskIdPath, request: Request, body: ReasonBody | None = None) -> JSON:
    svc, scope, actor = await context(request)
    b = body or ReasonBody()
    return JSON((await svc.act(scope, task_id, lc.Cancel(b.reason), actor)).to_json())


@router.post(
    "/tasks/{task_id}/release",
    summary="Give a claimed task back (extension)",
    responses=wire.answers(wire.Task, 409),
)
async def release(task_id: TaskIdPath, request: Request, body: ReleaseBody | None = None) -> JSON:
    svc, scope, actor = await context(request)
    b = body or ReleaseBody()
    action = lc.Release(b.delay_ms, b.reason, b.lease_token, b.refund_attempt)
    return JSON((await svc.act(scope, task_id, action, actor)).to_json())


@router.get(
    "/tasks/{task_id}/messages",
    summary="The task's message thread",
    responses=wire.answers(wire.MessageList),
)
async def list_messages(task_id: TaskIdPath, request: Request) -> JSON:
    svc, scope, _ = await context(request)
    messages = await svc.messages(scope, task_id)
    return JSON({"messages": [m.to_json() for m in messages]})


@router.post(
    "/tasks/{task_id}/messages",
    status_code=201,
    summary="Add a message",
    responses=wire.answers(wire.Message, status=201),
)
async def add_message(task_id: TaskIdPath, body: MessageBody, request: Request) -> JSON:
    svc, scope, actor = await context(request)
    message = await svc.add_message(scope, task_id, body.to_parts(), actor)
    return JSON(message.to_json(), status_code=201)
