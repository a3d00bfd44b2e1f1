"""The typer application and its global options (valid before or after the command, see argv.py)."""

from __future__ import annotations

import typer

from ats import __version__
from ats.cli.lazy import LazyGroup
from ats.cli.options import GlobalOptions, OutputFormat

app = typer.Typer(
    name="ats",
    help="ATS, the Agent Task Service: create, claim and finish tasks; manage projects; serve.",
    no_args_is_help=True,
    add_completion=False,
    cls=LazyGroup,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ats {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: str | None = typer.Option(None, "-u", "--url", help="Server URL (env ATS_URL)."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "-f", "--format", help="Output format."),
    org: str | None = typer.Option(None, "--org", help="Organization slug (env ATS_ORG)."),
    project: str | None = typer.Option(None, "--project", help="Project slug (env ATS_PROJECT)."),
    actor_type: str | None = typer.Option(
        None, "--actor-type", help="human, agent or system (env ATS_ACTOR_TYPE)."
    ),
    actor_id: str | None = typer.Option(None, "--actor-id", help="Who you are (env ATS_ACTOR_ID)."),
    actor_name: str | None = typer.Option(
        None, "--actor-name", help="Display name (env ATS_ACTOR_NAME)."
    ),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Show HTTP requests on stderr."),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Show the version."
    ),
) -> None:
    """Global options may also come after the command: ats claim 5 --actor-id me."""
    ctx.obj = GlobalOptions(
        url=url,
        format=fmt,
        org=org,
        project=project,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_name=actor_name,
        verbose=verbose,
    )
