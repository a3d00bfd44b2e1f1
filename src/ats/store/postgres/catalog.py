"""PostgreSQL catalog: orgs and projects, and the cache of project paths (``org/project``)."""

from __future__ import annotations

from ats.errors import NotFound
from ats.models import Millis, Org, Project
from ats.store.catalog import org_from_row, project_from_row
from ats.store.postgres.rows import row_or_gone
from ats.store.postgres.runner import Runner


class PgCatalog:
    """The :class:`~ats.store.ports.Catalog` port; the other ports ask it for project paths."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._paths: dict[int, str] = {}

    async def project_path(self, project_id: int) -> str:
        path = self._paths.get(project_id)
        if path is None:
            rows = await self.runner.all("project_paths")
            self._paths = {r["id"]: r["path"] for r in rows}
            path = self._paths.get(project_id, "?/?")
        return path

    async def list_orgs(self) -> list[Org]:
        return [org_from_row(r) for r in await self.runner.all("list_orgs")]

    async def get_org(self, slug: str) -> Org:
        row = await self.runner.one("get_org", slug=slug)
        if row is None:
            raise NotFound(f"Organization {slug!r} not found")
        return org_from_row(row)

    async def create_org(self, slug: str, name: str, now: Millis) -> Org:
        row = await self.runner.one("create_org", slug=slug, name=name, now=now)
        return org_from_row(row_or_gone(row))

    async def update_org(
        self, slug: str, new_slug: str | None, name: str | None, now: Millis
    ) -> Org:
        org = await self.get_org(slug)
        row = await self.runner.one(
            "update_org", slug=slug, new_slug=new_slug or org.slug, name=name or org.name, now=now
        )
        self._paths.clear()
        return org_from_row(row_or_gone(row))

    async def list_projects(self, org: str, counts: bool) -> list[Project]:
        await self.get_org(org)
        rows = await self.runner.all("list_projects", org=org)
        return [project_from_row(r, counts) for r in rows]

    async def get_project(self, org: str, slug: str) -> Project:
        row = await self.runner.one("get_project", org=org, slug=slug)
        if row is None:
            raise NotFound(f"Project {org}/{slug} not found")
        return project_from_row(row, False)

    async def default_project(self) -> Project:
        row = await self.runner.one("default_project")
        if row is None:
            raise NotFound("the default project is missing: was the database migrated?")
        return project_from_row(row, False)

    async def create_project(
        self, org: str, slug: str, name: str, description: str | None, now: Millis
    ) -> Project:
        await self.get_org(org)
        row = await self.runner.one(
            "create_project", org=org, slug=slug, name=name, description=description, now=now
        )
        return project_from_row(row_or_gone(row), False)

    async def update_project(
        self,
        org: str,
        slug: str,
        new_slug: str | None,
        name: str | None,
        description: str | None,
        now: Millis,
    ) -> Project:
        p = await self.get_project(org, slug)
        row = await self.runner.one(
            "update_project",
            org=org,
            slug=slug,
            new_slug=new_slug or p.slug,
            name=name or p.name,
            description=description if description is not None else p.description,
            now=now,
        )
        self._paths.clear()
        return project_from_row(row_or_gone(row), False)
