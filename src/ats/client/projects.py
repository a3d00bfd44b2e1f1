"""Organizations and projects (``/orgs…``): the part of the SDK that is not about tasks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ats.client.http import Connection

JSON = dict[str, Any]


def drop_none(**fields: Any) -> JSON:
    """A request body or query with only the fields the caller gave."""
    return {k: v for k, v in fields.items() if v is not None}


def seg(value: str | int) -> str:
    """One URL path segment (slugs are user input)."""
    return quote(str(value), safe="")


class OrgsAndProjects:
    """Mixed into ``AsyncClient``; answers are the server's JSON objects, unwrapped."""

    _conn: Connection

    async def list_orgs(self) -> list[JSON]:
        body = await self._conn.request("GET", "/orgs")
        result: list[JSON] = body["organizations"]
        return result

    async def create_org(self, slug: str, name: str | None = None) -> JSON:
        body = await self._conn.request("POST", "/orgs", json={"slug": slug, "name": name or slug})
        result: JSON = body["organization"]
        return result

    async def get_org(self, org: str) -> JSON:
        body = await self._conn.request("GET", f"/orgs/{seg(org)}")
        result: JSON = body["organization"]
        return result

    async def update_org(
        self, org: str, *, slug: str | None = None, name: str | None = None
    ) -> JSON:
        changes = drop_none(slug=slug, name=name)
        body = await self._conn.request("PATCH", f"/orgs/{seg(org)}", json=changes)
        result: JSON = body["organization"]
        return result

    async def list_projects(self, org: str, *, counts: bool = True) -> list[JSON]:
        """Projects of ``org``; with ``counts`` each has pending/in_progress/total counts."""
        path = f"/orgs/{seg(org)}/projects"
        body = await self._conn.request("GET", path, params={"counts": counts})
        result: list[JSON] = body["projects"]
        return result

    async def create_project(
        self, org: str, slug: str, name: str | None = None, *, description: str | None = None
    ) -> JSON:
        fields = drop_none(slug=slug, name=name or slug, description=description)
        body = await self._conn.request("POST", f"/orgs/{seg(org)}/projects", json=fields)
        result: JSON = body["project"]
        return result

    async def get_project(self, org: str, project: str) -> JSON:
        body = await self._conn.request("GET", f"/orgs/{seg(org)}/projects/{seg(project)}")
        result: JSON = body["project"]
        return result

    async def update_project(
        self,
        org: str,
        project: str,
        *,
        slug: str | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> JSON:
        changes = drop_none(slug=slug, name=name, description=description)
        path = f"/orgs/{seg(org)}/projects/{seg(project)}"
        body = await self._conn.request("PATCH", path, json=changes)
        result: JSON = body["project"]
        return result
