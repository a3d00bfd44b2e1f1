"""Organizations and projects (SPEC §3)."""

from __future__ import annotations

from fastapi import APIRouter

from ats.server.deps import Svc
from ats.server.responses import JSON
from ats.server.schemas import CreateOrg, CreateProject, UpdateOrg, UpdateProject

router = APIRouter(tags=["projects"])


@router.get("/orgs", summary="List organizations")
async def list_orgs(svc: Svc) -> JSON:
    return JSON({"organizations": [o.to_json() for o in await svc.store.list_orgs()]})


@router.post("/orgs", status_code=201, summary="Create an organization")
async def create_org(body: CreateOrg, svc: Svc) -> JSON:
    org = await svc.store.create_org(body.slug, body.name or body.slug, svc.clock())
    return JSON({"organization": org.to_json()}, status_code=201)


@router.get("/orgs/{org}", summary="An organization")
async def get_org(org: str, svc: Svc) -> JSON:
    return JSON({"organization": (await svc.store.get_org(org)).to_json()})


@router.patch("/orgs/{org}", summary="Rename an organization")
async def update_org(org: str, body: UpdateOrg, svc: Svc) -> JSON:
    updated = await svc.store.update_org(org, body.slug, body.name, svc.clock())
    svc.forget_projects()
    return JSON({"organization": updated.to_json()})


@router.get("/orgs/{org}/projects", summary="List projects (counts=true adds task counts)")
async def list_projects(org: str, svc: Svc, counts: bool = False) -> JSON:
    projects = await svc.store.list_projects(org, counts)
    return JSON({"projects": [p.to_json() for p in projects]})


@router.post("/orgs/{org}/projects", status_code=201, summary="Create a project")
async def create_project(org: str, body: CreateProject, svc: Svc) -> JSON:
    project = await svc.store.create_project(
        org, body.slug, body.name or body.slug, body.description, svc.clock()
    )
    return JSON({"project": project.to_json()}, status_code=201)


@router.get("/orgs/{org}/projects/{project}", summary="A project")
async def get_project(org: str, project: str, svc: Svc) -> JSON:
    return JSON({"project": (await svc.store.get_project(org, project)).to_json()})


@router.patch("/orgs/{org}/projects/{project}", summary="Rename or describe a project")
async def update_project(org: str, project: str, body: UpdateProject, svc: Svc) -> JSON:
    updated = await svc.store.update_project(
        org, project, body.slug, body.name, body.description, svc.clock()
    )
    svc.forget_projects()
    return JSON({"project": updated.to_json()})
