"""Encrypted tasks in memory: a submitter seals, a dispatcher opens or refuses, and replies."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ats.dispatch.crypto import CryptoError, KeyPair, fingerprint, generate_keypair, seal
from ats.dispatch.keyring import Keyring
from ats.dispatch.sealed import (
    Opened,
    Refused,
    encrypt_task,
    is_encrypted,
    open_outputs,
    open_task,
    record_pending,
    registration,
    seal_outputs,
)
from ats.errors import InvalidInput
from ats.models import ANONYMOUS, Millis, Status, Task, TaskId

SUBMITTER = generate_keypair()
DISPATCHER = generate_keypair()
SECRET_TITLE = "rotate the prod database password"


def task(payload: dict[str, Any], *, title: str = "Encrypted task", type: str = "task") -> Task:
    return Task(
        id=TaskId(42),
        title=title,
        description=None,
        status=Status.IN_PROGRESS,
        priority=5,
        type=type,
        channel="secure",
        payload=payload,
        outputs=None,
        project="default/main",
        source=ANONYMOUS,
        assignee=None,
        lease_expires=None,
        lease_token=1,
        attempts=1,
        max_attempts=None,
        depends_on=[],
        reason=None,
        available_at=Millis(0),
        created_at=Millis(0),
        updated_at=Millis(0),
    )


def dispatcher_keyring(**trusted: str) -> Keyring:
    return Keyring(identity=DISPATCHER, trusted=dict(trusted))


def sealed(sender: str | None = "alice", who: KeyPair = SUBMITTER) -> dict[str, Any]:
    return encrypt_task(
        SECRET_TITLE,
        "use the vault — ünïcode",
        {"env": "prod", "n": 3},
        recipient_public=DISPATCHER.public,
        identity=who,
        sender=sender,
    )


def test_envelope_shape_hides_everything() -> None:
    envelope = sealed()
    assert set(envelope) == {"encrypted", "sender", "nonce", "ciphertext"}
    assert envelope["encrypted"] is True and envelope["sender"] == "alice"
    assert "rotate" not in json.dumps(envelope) and "prod" not in json.dumps(envelope)
    anonymous = sealed(sender=None)
    assert anonymous["from"] == SUBMITTER.public and "sender" not in anonymous
    assert is_encrypted(envelope) and not is_encrypted({"encrypted": "yes"})


@pytest.mark.parametrize("sender", ["alice", None])
def test_trusted_sender_is_opened_and_gets_a_sealed_reply(sender: str | None) -> None:
    opened = open_task(
        task(sealed(sender)), dispatcher_keyring(alice=SUBMITTER.public), require_encryption=True
    )
    assert opened == Opened(
        SECRET_TITLE,
        "use the vault — ünïcode",
        {"env": "prod", "n": 3},
        encrypted=True,
        sender_name="alice",
        sender_public=SUBMITTER.public,
    )
    outputs = seal_outputs({"result": "done ✓"}, opened, DISPATCHER)
    assert len(outputs) == 1 and outputs[0]["from"] == DISPATCHER.public
    assert "done" not in json.dumps(outputs)
    assert open_outputs(outputs, SUBMITTER) == {"result": "done ✓"}
    with pytest.raises(CryptoError, match="wrong key"):
        open_outputs(outputs, generate_keypair())


def test_plaintext_passes_unless_encryption_is_required() -> None:
    plain = task({"x": 1}, title="hello")
    opened = open_task(plain, Keyring(), require_encryption=False)
    assert opened == Opened("hello", None, {"x": 1}, encrypted=False)
    with pytest.raises(Refused) as refused:
        open_task(plain, Keyring(), require_encryption=True)
    assert refused.value.reason == "encryption required: this dispatcher only runs encrypted tasks"
    with pytest.raises(ValueError):
        seal_outputs("x", opened, DISPATCHER)


def refusal(payload: dict[str, Any], keyring: Keyring) -> str:
    with pytest.raises(Refused) as refused:
        open_task(task(payload), keyring, require_encryption=False)
    return refused.value.reason


def test_refusals_say_why() -> None:
    trusting = dispatcher_keyring(alice=SUBMITTER.public)
    no_identity = Keyring(trusted={"alice": SUBMITTER.public})
    assert refusal(sealed(), no_identity) == "this dispatcher has no key pair (ats keys gen)"
    assert refusal(sealed("mallory"), trusting) == (
        "untrusted sender 'mallory': not in this dispatcher's trusted keys"
    )
    stranger = generate_keypair()
    assert refusal(sealed(None, stranger), trusting) == (
        f"untrusted sender key {fingerprint(stranger.public)}"
    )
    # Claims to be alice but was sealed with another key.
    assert refusal(sealed("alice", stranger), trusting) == (
        "cannot decrypt: wrong key or tampered ciphertext"
    )
    bad_nonce = {**sealed(), "nonce": "!!"}
    assert refusal(bad_nonce, trusting) == "cannot decrypt: nonce is not valid base64"
    assert refusal({"encrypted": True, "nonce": "x", "ciphertext": "y"}, trusting).startswith(
        "malformed envelope"
    )
    assert refusal({**sealed(), "ciphertext": None}, trusting).startswith("malformed envelope")
    assert refusal({"encrypted": True, "from": "short"}, trusting).startswith("malformed envelope")


@pytest.mark.parametrize(
    ("inner", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1]", "expected a JSON object"),
        (b'{"title": ""}', "'title' must be a non-empty string"),
        (b'{"title": "t", "description": 5}', "'description' must be a string"),
        (b'{"title": "t", "payload": [1]}', "'payload' must be an object"),
    ],
)
def test_malformed_inner_content_is_refused(inner: bytes, reason: str) -> None:
    nonce, ciphertext = seal(
        inner, recipient_public=DISPATCHER.public, sender_secret=SUBMITTER.secret
    )
    envelope = {"encrypted": True, "sender": "alice", "nonce": nonce, "ciphertext": ciphertext}
    message = refusal(envelope, dispatcher_keyring(alice=SUBMITTER.public))
    assert message == f"malformed encrypted content: {reason}"


def test_open_outputs_needs_a_sealed_element() -> None:
    with pytest.raises(CryptoError, match="no encrypted outputs"):
        open_outputs([{"result": "plain"}], SUBMITTER)
    with pytest.raises(CryptoError, match="no encrypted outputs"):
        open_outputs(None, SUBMITTER)


def test_registration_request_is_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    newcomer = generate_keypair().public
    reg = task({"pubkey": newcomer, "name": "ci"}, type="register")
    assert registration(reg) == (newcomer, "ci")
    fp = record_pending(path, newcomer, "ci", reg.id)
    assert record_pending(path, newcomer, "ci", reg.id) == fp == fingerprint(newcomer)
    pending = Keyring.load(path).pending
    assert list(pending) == [fp] and pending[fp].task_id == 42 and pending[fp].name == "ci"

    with pytest.raises(InvalidInput, match=r"payload\.pubkey: public key must be 32 bytes"):
        registration(task({"pubkey": "AAAA"}, type="register"))
    with pytest.raises(InvalidInput, match=r"payload\.pubkey"):
        registration(task({}, type="register"))
    with pytest.raises(InvalidInput, match=r"payload\.name"):
        registration(task({"pubkey": newcomer, "name": "a b"}, type="register"))
    with pytest.raises(InvalidInput, match="not a registration request"):
        registration(replace(reg, type="task"))
