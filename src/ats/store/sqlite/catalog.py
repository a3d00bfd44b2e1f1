"""SQLite catalog: orgs and projects, and the cache of project paths (``org/project``)."""

from __future__ import annotations

from ats.errors import NotFound
from ats.models import Millis, Org, Project
from ats.store.catalog import org_from_row, project_from_row
from ats.store.sqlite.runner import Runner


class ProjectPaths:
    """``org/project`` by project id, as tasks, events and feed events spell their project.

    Read whole on first use and again on a miss; a rename clears it (:meth:`forget`)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._paths: dict[int, str] = {}

    def get(self, project_id: int) -> str:
        path = self._paths.get(project_id)
        if path is None:
            self._paths = {r["id"]: r["path"] for r in self.runner.all("project_paths")}
            path = self._paths.get(project_id, "?/?")
        return path

    def forget(self) -> None:
        self._paths.clear()


class SqliteCatalog:
    """The :class:`~ats.store.ports.Catalog` port on SQLite."""

    def __init__(self, runner: Runner, paths: ProjectPaths) -> None:
        self.runner = runner
        self.paths = paths

    async def list_orgs(self) -> list[Org]:
        return [org_from_row(r) for r in self.runner.all("list_orgs")]

    async def get_org(self, slug: str) -> Org:
        row = self.runner.one("get_org", slug=slug)
        if row is None:
            raise NotFound(f"Organization {slug!r} not found")
        return org_from_row(row)

    async def create_org(self, slug: str, name: str, now: Millis) -> Org:
        async with self.runner.write() as tx:
            row = tx.one("create_org", slug=slug, name=name, now=now)
        assert row is not None
        return org_from_row(row)

    async def update_org(
        self, slug: str, new_slug: str | None, name: str | None, now: Millis
    ) -> Org:
        org = await self.get_org(slug)
        async with self.runner.write() as tx:
            row = tx.one(
                "update_org", slug=slug, new_slug=new_slug or org.slug, name=name or org.name,
                now=now,
            )  # fmt: skip
        self.paths.forget()
        assert row is not None
        return org_from_row(row)

    async def list_projects(self, org: str, counts: bool) -> list[Project]:
        await self.get_org(org)
        return [project_from_row(r, counts) for r in self.runner.all("list_projects", org=org)]

    async def get_project(self, org: str, slug: str) -> Project:
        row = self.runner.one("get_project", org=org, slug=slug)
        if row is None:
            raise NotFound(f"Project {org}/{slug} not found")
        return project_from_row(row, False)

    async def default_project(self) -> Project:
        row = self.runner.one("default_project")
        if row is None:
            raise NotFound("the default project is missing: was the database migrated?")
        return project_from_row(row, False)

    async def create_project(
        self, org: str, slug: str, name: str, description: str | None, now: Millis
    ) -> Project:
        await self.get_org(org)
        async with self.runner.write() as tx:
            row = tx.one(
                "create_project", org=org, slug=slug, name=name, description=description, now=now
            )
        assert row is not None
        return project_from_row(row, False)

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
        async with self.runner.write() as tx:
            row = tx.one(
                "update_project", org=org, slug=slug, new_slug=new_slug or p.slug,
                name=name or p.name,
                description=description if description is not None else p.description, now=now,
            )  # fmt: skip
        self.paths.forget()
        assert row is not None
        return project_from_row(row, False)
