"""The submitter's side of encrypted tasks: ``ats create --encrypt-for`` and ``ats task decrypt``.

``ats create TITLE --encrypt-for KEY [--sender NAME]`` seals title, description and payload to the
dispatcher's public key (or to a trusted NAME's key) with this host's key pair, and posts the task
with the title "Encrypted task", no description and the envelope as payload; type, channel,
priority and dependencies stay readable because the server schedules on them. ``--sender NAME``
puts the name the dispatcher trusts us under in the envelope; without it the envelope carries our
public key, which the dispatcher must trust as well.

``ats task decrypt ID`` opens the sealed result a dispatcher reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ats.cli import render
from ats.cli.keys import KEYRING, keyring_path
from ats.cli.session import print_json, session
from ats.dispatch.crypto import CryptoError, KeyPair, check_public_key, fingerprint
from ats.dispatch.keyring import Keyring
from ats.dispatch.sealed import PLACEHOLDER_TITLE, encrypt_task, open_outputs, sealed_output
from ats.errors import InvalidInput

task_app = typer.Typer(
    help="One task at a time: decrypt an encrypted task's result.", no_args_is_help=True
)


def _identity(keyring: Keyring, path: Path) -> KeyPair:
    if keyring.identity is None:
        raise InvalidInput(f"no key pair in {path}: create one with 'ats keys gen'")
    return keyring.identity


def _recipient(value: str, keyring: Keyring) -> str:
    """--encrypt-for takes a public key or the name of a trusted one."""
    trusted = keyring.public_of(value)
    if trusted is not None:
        return trusted
    try:
        return check_public_key(value)
    except CryptoError as error:
        raise typer.BadParameter(
            f"not a trusted name nor a public key ({error.message})", param_hint="--encrypt-for"
        ) from None


def seal_for_create(
    title: str,
    description: str | None,
    payload: dict[str, Any] | None,
    *,
    encrypt_for: str | None,
    sender: str | None,
    keyring: Path | None,
) -> tuple[str, str | None, dict[str, Any] | None]:
    """(title, description, payload) to post for ``ats create``; unchanged unless --encrypt-for."""
    if encrypt_for is None:
        if sender is not None:
            raise typer.BadParameter("needs --encrypt-for", param_hint="--sender")
        return title, description, payload
    path = keyring_path(keyring)
    k = Keyring.load(path)
    identity = _identity(k, path)
    try:
        envelope = encrypt_task(
            title,
            description,
            payload or {},
            recipient_public=_recipient(encrypt_for, k),
            identity=identity,
            sender=sender,
        )
    except InvalidInput as error:  # a bad --sender name
        raise typer.BadParameter(error.message, param_hint="--sender") from None
    return PLACEHOLDER_TITLE, None, envelope


@task_app.command()
def decrypt(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., metavar="ID"),
    keyring: Path | None = KEYRING,
) -> None:
    """Print the decrypted result of an encrypted task (JSON on stdout)."""
    s = session(ctx)
    path = keyring_path(keyring)
    k = Keyring.load(path)
    identity = _identity(k, path)
    task = s.call(lambda c: c.get_task(task_id)).value
    element = sealed_output(task.outputs)
    if element is None:
        raise InvalidInput(f"task #{task_id} has no encrypted result (status: {task.status.value})")
    try:
        result = open_outputs(task.outputs, identity)
    except CryptoError as error:
        raise InvalidInput(f"task #{task_id}: {error.message}") from None
    sender = element.get("from")
    if isinstance(sender, str):
        name = k.name_of(sender)
        who = f"'{name}'" if name else "a key not in your trusted keys"
        render.notice(f"Sealed by {who} ({fingerprint(sender)})")
    print_json(result)
