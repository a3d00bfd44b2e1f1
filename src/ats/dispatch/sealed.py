"""Encrypted tasks (SPEC §6): the envelope a submitter seals, what a dispatcher opens and returns.

A sealed task keeps its routing fields (type, channel, priority, depends_on) in the clear so the
server can schedule it; everything a person wrote goes in the envelope, which *is* the payload::

    {"encrypted": true, "sender": NAME | "from": PUBKEY, "nonce": B64, "ciphertext": B64}

over the UTF-8 JSON ``{"title", "description", "payload"}``. ``sender`` names a key the dispatcher
already trusts; ``from`` carries the key itself (it must still be trusted). The task's visible
title is a placeholder — the CLI posts "Encrypted task" — so nothing readable reaches the server.

The result goes back the same way, and only that way: outputs become one sealed element
``{"encrypted": true, "from": DISPATCHER_KEY, "nonce", "ciphertext"}`` addressed to the sender.

A task the dispatcher must not run raises ``Refused`` with a reason meant for the submitter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ats.dispatch.crypto import CryptoError, KeyPair, check_public_key, fingerprint, seal, unseal
from ats.dispatch.keyring import Keyring, check_name
from ats.errors import InvalidInput
from ats.models import Task

# What `ats create --encrypt-for` posts as the title: the real one is inside the envelope.
PLACEHOLDER_TITLE = "Encrypted task"
REGISTER_TYPE = "register"


class Refused(Exception):
    """The dispatcher must reject this task (never run it); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Opened:
    """A task as the executor should see it: decrypted when it was sealed."""

    title: str
    description: str | None
    payload: dict[str, Any]
    encrypted: bool
    sender_name: str | None = None  # the trusted name of the sender (encrypted tasks only)
    sender_public: str | None = None  # where the sealed result goes (encrypted tasks only)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def is_encrypted(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("encrypted") is True


def encrypt_task(
    title: str,
    description: str | None,
    payload: dict[str, Any],
    *,
    recipient_public: str,
    identity: KeyPair,
    sender: str | None,
) -> dict[str, Any]:
    """The envelope to post as the task's payload (title "Encrypted task", no description)."""
    nonce, ciphertext = seal(
        _dumps({"title": title, "description": description, "payload": payload}),
        recipient_public=recipient_public,
        sender_secret=identity.secret,
    )
    envelope: dict[str, Any] = {"encrypted": True}
    if sender is not None:
        envelope["sender"] = check_name(sender)
    else:
        envelope["from"] = identity.public
    envelope["nonce"] = nonce
    envelope["ciphertext"] = ciphertext
    return envelope


def open_task(task: Task, keyring: Keyring, *, require_encryption: bool) -> Opened:
    """What to run for ``task``, or Refused; plaintext passes unless encryption is required."""
    envelope = task.payload
    if not is_encrypted(envelope):
        if require_encryption:
            raise Refused("encryption required: this dispatcher only runs encrypted tasks")
        return Opened(task.title, task.description, task.payload, encrypted=False)
    identity = keyring.identity
    if identity is None:
        raise Refused("this dispatcher has no key pair (ats keys gen)")
    name, public = _sender(envelope, keyring)
    nonce, ciphertext = envelope.get("nonce"), envelope.get("ciphertext")
    if not isinstance(nonce, str) or not isinstance(ciphertext, str):
        raise Refused("malformed envelope: 'nonce' and 'ciphertext' must be base64 strings")
    try:
        plain = unseal(nonce, ciphertext, sender_public=public, recipient_secret=identity.secret)
    except CryptoError as error:
        reason = error.message
        raise Refused(
            reason if reason.startswith("cannot") else f"cannot decrypt: {reason}"
        ) from None
    title, description, payload = _inner(plain)
    return Opened(title, description, payload, True, sender_name=name, sender_public=public)


def _sender(envelope: dict[str, Any], keyring: Keyring) -> tuple[str, str]:
    """(trusted name, public key) of whoever sealed ``envelope``."""
    name = envelope.get("sender")
    if isinstance(name, str):
        public = keyring.public_of(name)
        if public is None:
            raise Refused(f"untrusted sender '{name}': not in this dispatcher's trusted keys")
        return name, public
    key = envelope.get("from")
    if not isinstance(key, str):
        raise Refused("malformed envelope: it needs 'sender' (a name) or 'from' (a public key)")
    try:
        key = check_public_key(key)
    except CryptoError as error:
        raise Refused(f"malformed envelope: 'from': {error.message}") from None
    trusted_as = keyring.name_of(key)
    if trusted_as is None:
        raise Refused(f"untrusted sender key {fingerprint(key)}")
    return trusted_as, key


def _inner(plain: bytes) -> tuple[str, str | None, dict[str, Any]]:
    try:
        inner = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused("malformed encrypted content: not UTF-8 JSON") from None
    if not isinstance(inner, dict):
        raise Refused("malformed encrypted content: expected a JSON object")
    title, description, payload = inner.get("title"), inner.get("description"), inner.get("payload")
    if not isinstance(title, str) or not title.strip():
        raise Refused("malformed encrypted content: 'title' must be a non-empty string")
    if description is not None and not isinstance(description, str):
        raise Refused("malformed encrypted content: 'description' must be a string")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise Refused("malformed encrypted content: 'payload' must be an object")
    return title, description, payload


def seal_outputs(outputs: Any, opened: Opened, identity: KeyPair) -> list[dict[str, Any]]:
    """The outputs to report for an encrypted task: one element sealed to its sender."""
    if not opened.encrypted or opened.sender_public is None:
        raise ValueError("seal_outputs is for encrypted tasks only")
    nonce, ciphertext = seal(
        _dumps(outputs), recipient_public=opened.sender_public, sender_secret=identity.secret
    )
    return [{"encrypted": True, "from": identity.public, "nonce": nonce, "ciphertext": ciphertext}]


def sealed_output(outputs: Any) -> dict[str, Any] | None:
    """The first sealed element of a task's outputs, if any."""
    if isinstance(outputs, list):
        return next((o for o in outputs if is_encrypted(o)), None)
    return None


def open_outputs(outputs: Any, identity: KeyPair) -> Any:
    """The submitter's side: the decrypted result of an encrypted task.

    The box authenticates the pair (``from``, us), so this proves the result was sealed by the
    holder of ``from``'s secret key; callers that care *which* key should compare ``from``.
    """
    element = sealed_output(outputs)
    if element is None:
        raise CryptoError("no encrypted outputs")
    sender, nonce, ciphertext = element.get("from"), element.get("nonce"), element.get("ciphertext")
    if not (isinstance(sender, str) and isinstance(nonce, str) and isinstance(ciphertext, str)):
        raise CryptoError("malformed encrypted outputs: need 'from', 'nonce' and 'ciphertext'")
    plain = unseal(nonce, ciphertext, sender_public=sender, recipient_secret=identity.secret)
    try:
        return json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CryptoError("decrypted outputs are not UTF-8 JSON") from None


# -- registration -------------------------------------------------------------------------------


def registration(task: Task) -> tuple[str, str | None]:
    """(public key, requested name) of a ``register`` task; InvalidInput if it is not one."""
    if task.type != REGISTER_TYPE:
        raise InvalidInput(f"task #{task.id} is not a registration request (type '{task.type}')")
    pubkey, name = task.payload.get("pubkey"), task.payload.get("name")
    if not isinstance(pubkey, str):
        raise InvalidInput("payload.pubkey: expected a base64 public key")
    try:
        pubkey = check_public_key(pubkey)
    except CryptoError as error:
        raise InvalidInput(f"payload.pubkey: {error.message}") from None
    if name is not None:
        if not isinstance(name, str):
            raise InvalidInput("payload.name: expected a string")
        try:
            check_name(name)
        except InvalidInput as error:
            raise InvalidInput(f"payload.name: {error.message}") from None
    return pubkey, name


def record_pending(path: Path | None, pubkey: str, name: str | None, task_id: int | None) -> str:
    """Queue a registration for approval (idempotent); returns the key's fingerprint."""
    return Keyring.update(path, lambda k: k.request(pubkey, name=name, task_id=task_id))
