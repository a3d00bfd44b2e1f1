"""``ats dispatch``: run the executor bot (SPEC §6); ``ats dispatch deps`` shows dependency trees.

Every setting comes from a flag, the environment (``ATS_DISPATCH_*``) or a TOML file
(``--config``, else ``.ats/dispatch.toml``); see ``examples/dispatch.toml``. A setting that cannot
work (no such command, a malformed file, a server that does not answer) is one line on stderr and
exit code 2, before anything is claimed.
"""

from __future__ import annotations

import sys

import typer

from ats.cli.dispatch_deps import deps
from ats.cli.session import run_async, session
from ats.dispatch import runner
from ats.dispatch.logs import Log
from ats.dispatch.settings import Flags, load
from ats.errors import AtsError

EXIT_PREFLIGHT = 2

dispatch_app = typer.Typer(
    help="Run tasks from channels: claim, execute, renew, retry, report.",
    invoke_without_command=True,
    no_args_is_help=False,
)
dispatch_app.command("deps", help="Show task dependencies as a tree (○ ◑ ● ✗ ⊘).")(deps)


def _channels(values: list[str] | None) -> tuple[str, ...]:
    return tuple(c.strip() for v in values or [] for c in v.split(",") if c.strip())


def _fail(message: str) -> typer.Exit:
    print(f"ats dispatch: {message}", file=sys.stderr)
    return typer.Exit(EXIT_PREFLIGHT)


@dispatch_app.callback()
def dispatch(
    ctx: typer.Context,
    channel: list[str] | None = typer.Option(
        None, "--channel", "-c", help="Channel to take work from (repeatable, or a,b)."
    ),
    command: str | None = typer.Option(
        None, "--command", help="Run this command per task: prompt on stdin, {title} etc. in argv."
    ),
    http: str | None = typer.Option(None, "--http", help="POST each task to this URL."),
    python: str | None = typer.Option(None, "--python", help="Call module:function per task."),
    concurrency: int | None = typer.Option(None, "--concurrency", "-n", help="Tasks at once."),
    lease: int | None = typer.Option(None, "--lease", help="Lease in ms (renewed every lease/4)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds before a run is killed."),
    max_attempts: int | None = typer.Option(None, "--max-attempts", help="Default 3."),
    retry_backoff: float | None = typer.Option(
        None, "--retry-backoff", help="Seconds before the first retry, doubling after."
    ),
    kill_grace: float | None = typer.Option(
        None, "--kill-grace", help="Seconds between SIGTERM and SIGKILL."
    ),
    leave_leases: bool | None = typer.Option(
        None, "--leave-leases", help="On shutdown let leases expire instead of releasing."
    ),
    heartbeat: bool | None = typer.Option(
        None, "--heartbeat/--no-heartbeat", help="Post a message on each lease renewal."
    ),
    require_encryption: bool | None = typer.Option(
        None, "--require-encryption", help="Refuse tasks that are not encrypted."
    ),
    keyring: str | None = typer.Option(None, "--keyring", help="Key ring file (env ATS_KEYRING)."),
    log_format: str | None = typer.Option(None, "--log-format", help="json (default) or text."),
    config: str | None = typer.Option(None, "--config", help="TOML settings file."),
    allow_private_callbacks: bool | None = typer.Option(
        None,
        "--allow-private-callbacks",
        help="Let task callbacks reach loopback and private addresses (off: public only).",
    ),
    callback_allow_host: list[str] | None = typer.Option(
        None,
        "--callback-allow-host",
        help="A host, address or network task callbacks may reach anyway (repeatable).",
    ),
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    sess = session(ctx)
    flags = Flags(
        channels=_channels(channel),
        command=command,
        http=http,
        python=python,
        concurrency=concurrency,
        lease_ms=lease,
        timeout=timeout,
        max_attempts=max_attempts,
        retry_backoff=retry_backoff,
        kill_grace=kill_grace,
        leave_leases=leave_leases,
        heartbeat=heartbeat,
        log_format=log_format,
        require_encryption=require_encryption,
        keyring=keyring,
        config=config,
        allow_private_callbacks=allow_private_callbacks,
        callback_allow_hosts=tuple(callback_allow_host or ()),
    )
    try:
        client_settings = sess.settings
        settings = load(flags, default_channel=client_settings.channel)
    except AtsError as exc:
        raise _fail(exc.message) from None
    log = Log(text=settings.log_format == "text")
    try:
        run_async(runner.run(settings, client_settings, log))
    except runner.Preflight as exc:
        raise _fail(str(exc)) from None
