"""Request-scoped helpers shared by the routes: the service, the scope, the actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from ats.models import Actor
from ats.server.actor import actor_from
from ats.service.tasks import Scope, TaskService


async def service(request: Request) -> TaskService:
    svc: TaskService = request.app.state.service
    return svc


async def scope(request: Request) -> Scope:
    params = request.path_params
    svc: TaskService = request.app.state.service
    return await svc.scope(params.get("org"), params.get("project"))


Svc = Annotated[TaskService, Depends(service)]
InScope = Annotated[Scope, Depends(scope)]
Caller = Annotated[Actor, Depends(actor_from)]
TaskIdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="task id")]
