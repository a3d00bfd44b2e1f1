"""Request-scoped helpers shared by the routes: the service, the scope, the actor.

Routes call :func:`context` directly instead of declaring three FastAPI dependencies: dependency
solving costs more per request than the work it wraps on the hot paths.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from ats.models import Actor
from ats.server.actor import actor_from
from ats.service.tasks import Scope, TaskService


async def service(request: Request) -> TaskService:
    svc: TaskService = request.app.state.service
    return svc


async def context(request: Request) -> tuple[TaskService, Scope, Actor]:
    svc: TaskService = request.app.state.service
    params = request.path_params
    scope = await svc.scope(params.get("org"), params.get("project"))
    return svc, scope, actor_from(request)


OrgPath = Annotated[str, Path(description="organization slug")]
ProjectPath = Annotated[str, Path(description="project slug")]


async def project_path(org: OrgPath, project: ProjectPath) -> None:
    """Declares the scope's path parameters (for OpenAPI); ``context`` reads them."""


Svc = Annotated[TaskService, Depends(service)]
TaskIdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="task id")]
