"""``ats dispatch deps [--task ID] [--status S|all]``: the dependency tree of the tasks."""

from __future__ import annotations

import typer

from ats.cli.render import notice
from ats.cli.session import print_json, session
from ats.client import AsyncClient
from ats.dispatch.deps import (
    Graph,
    focus_json,
    forest_json,
    load,
    parse_status,
    render,
    render_focus,
)
from ats.models import Status


def deps(
    ctx: typer.Context,
    task: int | None = typer.Option(
        None, "--task", help="Show this task: what it waits for and who waits for it."
    ),
    status: str = typer.Option(
        "pending", "--status", help="Top-level tasks in this status, or 'all'."
    ),
) -> None:
    """Dependency tree: ○ pending ◑ in progress ● completed ✗ failed/rejected ⊘ cancelled."""
    try:
        wanted = parse_status(status)  # checked before any request: a typo costs no round trip
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--status") from None
    s = session(ctx)

    async def fetch(client: AsyncClient) -> Graph:
        return await load(client, focus=task)

    graph = s.call(fetch).value
    if task is not None:
        focus = graph.focus(task)
        if s.json:
            print_json(focus_json(focus))
        else:
            _print(render_focus(focus))
        return
    forest = graph.forest(wanted)
    if s.json:
        print_json(forest_json(forest))
    elif forest:
        _print(render(forest))
    elif wanted is Status.PENDING:
        notice("No task is waiting on a dependency.")
    else:
        where = f" in status {wanted.value}" if wanted else ""
        notice(f"No tasks{where} with dependencies or dependents.")


def _print(lines: list[str]) -> None:
    typer.echo("\n".join(lines))
