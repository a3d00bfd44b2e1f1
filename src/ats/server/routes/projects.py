"""Organizations and projects (SPEC §3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ats.server import wire
from ats.server.body import JsonRoute
from ats.server.deps import OrgPath, ProjectPath, Svc
from ats.server.responses import JSON
from ats.server.schemas import CreateOrg, CreateProject, UpdateOrg, UpdateProject

router = APIRouter(tags=["projects"], route_class=JsonRoute)


@router.get("/orgs", summary="List organizations", responses=wire.answers(wire.OrganizationList))
async def list_orgs(svc: Svc) -> JSON:
    return JSON({"organizations": [o.to_json() for o in await svc.store.catalog.list_orgs()]})


@router.post(
    "/orgs",
    status_code=201,
    summary="Create an organization",
    responses=wire.answers(wire.OrganizationAnswer, 409, status=201),
)
async def create_org(body: CreateOrg, svc: Svc) -> JSON:
    org = await svc.store.catalog.create_org(body.slug, body.name or body.slug, svc.clock())
    return JSON({"organization": org.to_json()}, status_code=201)


@router.get(
    "/orgs/{org}", summary="An organization", responses=wire.answers(wire.OrganizationAnswer)
)
async def get_org(org: OrgPath, svc: Svc) -> JSON:
    return JSON({"organization": (await svc.store.catalog.get_org(org)).to_json()})


@router.patch(
    "/orgs/{org}",
    summary="Rename an organization",
    responses=wire.answers(wire.OrganizationAnswer, 409),
)
async def update_org(org: OrgPath, body: UpdateOrg, svc: Svc) -> JSON:
    updated = await svc.store.catalog.update_org(org, body.slug, body.name, svc.clock())
    svc.forget_projects()
    return JSON({"organization": updated.to_json()})


@router.get(
    "/orgs/{org}/projects",
    summary="List projects (counts=true adds task counts)",
    responses=wire.answers(wire.ProjectList),
)
async def list_projects(
    org: OrgPath,
    svc: Svc,
    counts: Annotated[
        bool,
        Query(description="Add pending_count, in_progress_count and total_count to each"),
    ] = False,
) -> JSON:
    projects = await svc.store.catalog.list_projects(org, counts)
    return JSON({"projects": [p.to_json() for p in projects]})


@router.post(
    "/orgs/{org}/projects",
    status_code=201,
    summary="Create a project",
    responses=wire.answers(wire.ProjectAnswer, 409, status=201),
)
async def create_project(org: OrgPath, body: CreateProject, svc: Svc) -> JSON:
    project = await svc.store.catalog.create_project(
        org, body.slug, body.name or body.slug, body.description, svc.clock()
    )
    return JSON({"project": project.to_json()}, status_code=201)


@router.get(
    "/orgs/{org}/projects/{project}",
    summary="A project",
    responses=wire.answers(wire.ProjectAnswer),
)
async def get_project(org: OrgPath, project: ProjectPath, svc: Svc) -> JSON:
    return JSON({"project": (await svc.store.catalog.get_project(org, project)).to_json()})


@router.patch(
    "/orgs/{org}/projects/{project}",
    summary="Rename or describe a project",
    responses=wire.answers(wire.ProjectAnswer, 409),
)
async def update_project(org: OrgPath, project: ProjectPath, body: UpdateProject, svc: Svc) -> JSON:
    updated = await svc.store.catalog.update_project(
        org, project, body.slug, body.name, body.description, svc.clock()
    )
    svc.forget_projects()
    return JSON({"project": updated.to_json()})
