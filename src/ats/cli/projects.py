"""``ats project init | list | create | switch | current | show | rename``.

The current project lives in the nearest ``.ats/config`` (see ats.config); ``switch`` rewrites that
file, creating ``./.ats/config`` when there is none, so everything run below this directory uses
the project.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ats.cli import render
from ats.cli.parsing import parse_scope
from ats.cli.session import Session, print_json, session
from ats.client import AsyncClient
from ats.config import CONFIG_DIR, CONFIG_FILE, ENV_VARS, read_config_file, write_config_file
from ats.errors import Conflict, NotFound

project_app = typer.Typer(help="Organizations' projects and the current one.", no_args_is_help=True)

SPEC = typer.Argument(None, metavar="[ORG/PROJECT]", help="Default: the current project.")


def _target(s: Session, spec: str | None) -> tuple[str, str]:
    if spec is None:
        return s.settings.organization, s.settings.project
    org, project = parse_scope(spec)
    return org or s.settings.organization, project


def _local_file() -> Path:
    return Path.cwd() / CONFIG_DIR / CONFIG_FILE


@project_app.command()
def init(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing ./.ats/config."),
) -> None:
    """Create ./.ats/config (defaults, or the --url/--org/--project given)."""
    s = session(ctx)
    path = _local_file()
    if path.exists() and not force:
        raise Conflict(f"{path} already exists (use --force to overwrite)")
    data = {
        "url": s.settings.url,
        "organization": s.settings.organization,
        "project": s.settings.project,
    }
    write_config_file(path, data)
    if s.json:
        print_json(data)
    else:
        render.line(f"Created {path} for {data['organization']}/{data['project']}")


@project_app.command("list")
def list_(ctx: typer.Context, org: str | None = typer.Argument(None, metavar="[ORG]")) -> None:
    """Projects of an organization, with task counts; * marks the current one."""
    s = session(ctx)
    org = org or s.settings.organization
    reply = s.call(lambda c: c.list_projects(org, counts=True))
    current = s.settings.project if org == s.settings.organization else None
    s.show(reply.value, lambda: render.projects(reply.value, org, current))


@project_app.command()
def create(
    ctx: typer.Context,
    spec: str = typer.Argument(..., metavar="[ORG/]PROJECT"),
    name: str | None = typer.Option(None, "--name", help="Display name (default: the slug)."),
    description: str | None = typer.Option(None, "--description", "-d"),
) -> None:
    """Create a project (and its organization if it does not exist yet)."""
    s = session(ctx)
    org, slug = _target(s, spec)

    async def go(c: AsyncClient) -> dict[str, Any]:
        try:
            return await c.create_project(org, slug, name, description=description)
        except NotFound:
            await c.create_org(org)
            return await c.create_project(org, slug, name, description=description)

    reply = s.call(go)
    s.show(reply.value, lambda: render.line(f"Created project {org}/{slug}"))


@project_app.command()
def switch(ctx: typer.Context, spec: str | None = SPEC) -> None:
    """Make ORG/PROJECT (or --org/--project) current in the nearest .ats/config."""
    s = session(ctx)
    if spec is None and s.options.org is None and s.options.project is None:
        raise typer.BadParameter("give ORG/PROJECT, or --org and/or --project")
    org, project = _target(s, spec)
    path = s.settings.project_file or _local_file()
    data = read_config_file(path) | {"organization": org, "project": project}
    write_config_file(path, data)
    shadowed = [ENV_VARS[k] for k in ("organization", "project") if os.environ.get(ENV_VARS[k])]
    if s.json:
        print_json({"organization": org, "project": project, "config": str(path)})
    else:
        render.line(f"Switched to {org}/{project} ({path})")
    if shadowed:
        render.notice(f"Note: {' and '.join(shadowed)} set in the environment still take priority.")


@project_app.command()
def current(ctx: typer.Context) -> None:
    """Print the current ORG/PROJECT."""
    st = session(ctx).settings
    if session(ctx).json:
        print_json(
            {
                "organization": st.organization,
                "project": st.project,
                "scoped": st.scoped,
                "config": str(st.project_file) if st.project_file else None,
            }
        )
    else:
        render.line(f"{st.organization}/{st.project}")


@project_app.command()
def show(ctx: typer.Context, spec: str | None = SPEC) -> None:
    """Details of a project."""
    s = session(ctx)
    org, project = _target(s, spec)
    reply = s.call(lambda c: c.get_project(org, project))
    s.show(reply.value, lambda: render.mapping(reply.value, f"{org}/{project}"))


@project_app.command()
def rename(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="New display name."),
    slug: str | None = typer.Option(None, "--slug", help="Also change the slug."),
) -> None:
    """Rename the current project (or --org/--project)."""
    s = session(ctx)
    org, project = s.settings.organization, s.settings.project
    reply = s.call(lambda c: c.update_project(org, project, name=name, slug=slug))
    path = s.settings.project_file
    if slug and path is not None:
        data = read_config_file(path)
        if data.get("organization", org) == org and data.get("project") == project:
            write_config_file(path, data | {"project": slug})
    s.show(reply.value, lambda: render.line(f"Renamed {org}/{project} to {name!r}"))
