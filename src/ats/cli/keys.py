"""``ats keys gen | add | remove | list | pending | approve | reject``: the local keyring.

Everything here is local (no server): the keyring file of ats.dispatch.keyring, shared with a
running dispatcher, which is why every change goes through ``Keyring.update``. Output never
shows a secret key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ats.cli import render
from ats.cli.session import Session, print_json, session
from ats.dispatch.crypto import CryptoError, KeyPair, check_public_key, fingerprint
from ats.dispatch.crypto import generate_keypair as new_keypair
from ats.dispatch.keyring import Keyring, PendingKey, check_name, default_path
from ats.errors import Conflict, InvalidInput

keys_app = typer.Typer(
    help="Encryption keys: this host's key pair, trusted senders, registration requests.",
    no_args_is_help=True,
)

KEYRING = typer.Option(
    None, "--keyring", help="Keyring file (env ATS_KEYRING, default ~/.ats/keyring.json)."
)


def keyring_path(option: Path | None) -> Path:
    return option if option is not None else default_path()


def _name(value: str) -> str:
    try:
        return check_name(value)
    except InvalidInput as error:
        raise typer.BadParameter(error.message, param_hint="NAME") from None


def _pubkey(value: str) -> str:
    try:
        return check_public_key(value)
    except CryptoError as error:
        raise typer.BadParameter(error.message, param_hint="PUBKEY") from None


def _pending_json(request: PendingKey) -> dict[str, Any]:
    return {"fingerprint": request.fingerprint, **request.to_json()}


def _report(s: Session, document: dict[str, Any], text: str) -> None:
    if s.json:
        print_json(document)
    else:
        render.line(text)


@keys_app.command()
def gen(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Replace an existing key pair."),
    keyring: Path | None = KEYRING,
) -> None:
    """Create this host's key pair and print its public key (give that to your peers)."""
    path = keyring_path(keyring)

    def create(k: Keyring) -> KeyPair:
        if k.identity is not None and not force:
            raise Conflict(
                f"{path} already has a key pair ({fingerprint(k.identity.public)}); "
                "use --force to replace it (peers will need the new public key)"
            )
        k.identity = new_keypair()
        return k.identity

    pair = Keyring.update(path, create)
    fp = fingerprint(pair.public)
    _report(
        session(ctx),
        {"public": pair.public, "fingerprint": fp, "keyring": str(path)},
        f"Public key: {pair.public}\nFingerprint: {fp}",
    )


@keys_app.command()
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Who the key belongs to (an envelope's 'sender')."),
    pubkey: str = typer.Argument(..., help="Their base64 public key."),
    keyring: Path | None = KEYRING,
) -> None:
    """Trust a sender's public key under NAME."""
    name, pubkey = _name(name), _pubkey(pubkey)
    added = Keyring.update(keyring_path(keyring), lambda k: k.trust(name, pubkey))
    fp = fingerprint(pubkey)
    verb = "Trusted" if added else "Already trusted"
    _report(
        session(ctx), {"name": name, "pubkey": pubkey, "fingerprint": fp}, f"{verb} {name} ({fp})"
    )


@keys_app.command()
def remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A trusted name."),
    keyring: Path | None = KEYRING,
) -> None:
    """Stop trusting NAME."""
    pubkey = Keyring.update(keyring_path(keyring), lambda k: k.distrust(name))
    fp = fingerprint(pubkey)
    _report(
        session(ctx), {"name": name, "pubkey": pubkey, "fingerprint": fp}, f"Removed {name} ({fp})"
    )


@keys_app.command("list")
def list_(ctx: typer.Context, keyring: Path | None = KEYRING) -> None:
    """This host's public key, the trusted senders and the pending registrations."""
    s = session(ctx)
    path = keyring_path(keyring)
    k = Keyring.load(path)
    ident = k.identity
    document = {
        "keyring": str(path),
        "identity": {"public": ident.public, "fingerprint": fingerprint(ident.public)}
        if ident
        else None,
        "trusted": [
            {"name": n, "pubkey": p, "fingerprint": fingerprint(p)} for n, p in k.trusted.items()
        ],
        "pending": [_pending_json(p) for p in k.pending.values()],
    }
    if s.json:
        print_json(document)
        return
    if ident:
        render.mapping(
            {"public key": ident.public, "fingerprint": fingerprint(ident.public)}, "Identity"
        )
    else:
        render.line("Identity: none (ats keys gen)")
    if k.trusted:
        render.mapping({n: f"{fingerprint(p)}  {p}" for n, p in k.trusted.items()}, "Trusted")
    else:
        render.line("Trusted: none")
    _pending_table(k)


def _pending_table(k: Keyring) -> None:
    if not k.pending:
        render.line("Pending: none")
        return
    rows = {
        fp: " ".join(
            part
            for part in (
                p.pubkey,
                f"name={p.name}" if p.name else "",
                f"task=#{p.task_id}" if p.task_id is not None else "",
                p.requested_at,
            )
            if part
        )
        for fp, p in k.pending.items()
    }
    render.mapping(rows, "Pending (ats keys approve FP NAME)")


@keys_app.command()
def pending(ctx: typer.Context, keyring: Path | None = KEYRING) -> None:
    """Registration requests waiting for approval."""
    s = session(ctx)
    k = Keyring.load(keyring_path(keyring))
    if s.json:
        print_json([_pending_json(p) for p in k.pending.values()])
    else:
        _pending_table(k)


@keys_app.command()
def approve(
    ctx: typer.Context,
    fp: str = typer.Argument(..., metavar="FP", help="Fingerprint of the pending request."),
    name: str = typer.Argument(..., help="Name to trust the key under."),
    keyring: Path | None = KEYRING,
) -> None:
    """Trust a pending registration's key under NAME."""
    name = _name(name)
    request = Keyring.update(keyring_path(keyring), lambda k: k.approve(fp, name))
    _report(
        session(ctx),
        {"name": name, "pubkey": request.pubkey, "fingerprint": request.fingerprint},
        f"Trusted {name} ({request.fingerprint})",
    )


@keys_app.command()
def reject(
    ctx: typer.Context,
    fp: str = typer.Argument(..., metavar="FP", help="Fingerprint of the pending request."),
    keyring: Path | None = KEYRING,
) -> None:
    """Drop a pending registration request."""
    request = Keyring.update(keyring_path(keyring), lambda k: k.reject(fp))
    _report(session(ctx), _pending_json(request), f"Rejected {request.fingerprint}")
