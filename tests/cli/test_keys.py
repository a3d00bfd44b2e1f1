"""``ats keys …``, ``ats create --encrypt-for`` and ``ats task decrypt``, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from ats.client import AsyncClient
from ats.dispatch.crypto import fingerprint, generate_keypair
from ats.dispatch.keyring import Keyring
from ats.dispatch.sealed import open_task, record_pending, seal_outputs
from ats.models import Actor, ActorType, Task

from .conftest import Ats


@pytest.fixture(autouse=True)
def no_keyring_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATS_KEYRING", raising=False)


def home_keyring() -> Path:
    return Path.home() / ".ats" / "keyring.json"


def ok(ats: Ats, *argv: str) -> Any:
    result = ats(*argv, "-f", "json")
    assert result.code == 0, result.err
    return result.json()


def test_gen_creates_a_private_key_pair_once(ats: Ats) -> None:
    first = ats("keys", "gen")
    assert first.code == 0, first.err
    k = Keyring.load(home_keyring())
    assert k.identity is not None
    public = k.identity.public
    assert f"Public key: {public}" in first.out
    assert f"Fingerprint: {fingerprint(public)}" in first.out
    assert k.identity.secret not in first.out
    assert stat.S_IMODE(home_keyring().stat().st_mode) == 0o600

    again = ats("keys", "gen")
    assert again.code == 4 and again.out == ""
    assert again.err.startswith("Error: ") and "--force" in again.err
    assert Keyring.load(home_keyring()).identity == k.identity

    forced = ok(ats, "keys", "gen", "--force")
    assert set(forced) == {"public", "fingerprint", "keyring"}
    assert forced["public"] != public and forced["keyring"] == str(home_keyring())
    assert forced["fingerprint"] == fingerprint(forced["public"])


def test_add_list_remove(ats: Ats) -> None:
    alice, bob = generate_keypair().public, generate_keypair().public
    assert ok(ats, "keys", "add", "alice", alice) == {
        "name": "alice",
        "pubkey": alice,
        "fingerprint": fingerprint(alice),
    }
    assert ats("keys", "add", "alice", alice).out.startswith("Already trusted alice")
    assert ats("keys", "add", "bob", bob).code == 0

    listed = ok(ats, "keys", "list")
    assert listed["identity"] is None and listed["pending"] == []
    assert [t["name"] for t in listed["trusted"]] == ["alice", "bob"]
    table = ats("keys", "list")
    assert "ats keys gen" in table.out and fingerprint(bob) in table.out

    clash = ats("keys", "add", "alice", bob)
    assert clash.code == 4 and "already trusted with another key" in clash.err
    assert ats("keys", "remove", "alice").out.startswith("Removed alice")
    missing = ats("keys", "remove", "alice")
    assert missing.code == 3 and missing.err == "Error: no trusted key named 'alice'\n"
    assert [t["name"] for t in ok(ats, "keys", "list")["trusted"]] == ["bob"]


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (("keys", "add", "x", "not-a-key"), "not valid base64"),
        (("keys", "add", "x", "AAAA"), "must be 32 bytes"),
        (("keys", "add", "two words", generate_keypair().public), "invalid key name"),
        (("keys", "approve", "abc", "bad name"), "invalid key name"),
        (("keys", "approve", "abc"), "Missing argument"),
    ],
)
def test_bad_arguments_exit_2(ats: Ats, argv: tuple[str, ...], complaint: str) -> None:
    result = ats(*argv)
    assert result.code == 2 and complaint in result.err and result.out == ""
    assert not home_keyring().exists()


def test_registrations_are_approved_or_rejected(ats: Ats) -> None:
    newcomer, spammer = generate_keypair().public, generate_keypair().public
    fp = record_pending(home_keyring(), newcomer, "ci", 7)
    other = record_pending(home_keyring(), spammer, None, None)

    pending = ok(ats, "keys", "pending")
    assert {p["fingerprint"] for p in pending} == {fp, other}
    mine = next(p for p in pending if p["fingerprint"] == fp)
    assert mine["pubkey"] == newcomer and mine["name"] == "ci" and mine["task_id"] == 7
    assert fp in ats("keys", "pending").out

    approved = ats("keys", "approve", fp, "ci-runner")
    assert approved.code == 0 and approved.out == f"Trusted ci-runner ({fp})\n"
    assert ok(ats, "keys", "reject", other)["pubkey"] == spammer
    assert ats("keys", "reject", other).code == 3

    listed = ok(ats, "keys", "list")
    assert listed["pending"] == []
    assert listed["trusted"] == [{"name": "ci-runner", "pubkey": newcomer, "fingerprint": fp}]
    assert ats("keys", "pending").out.strip() == "Pending: none"


def test_keyring_option_and_env(ats: Ats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_option, by_env = tmp_path / "opt.json", tmp_path / "env.json"
    assert ats("keys", "gen", "--keyring", str(by_option)).code == 0
    monkeypatch.setenv("ATS_KEYRING", str(by_env))
    assert ats("keys", "gen").code == 0
    assert Keyring.load(by_option).identity != Keyring.load(by_env).identity
    assert not home_keyring().exists()
    assert ok(ats, "keys", "list")["keyring"] == str(by_env)


def test_malformed_keyring_is_an_error(ats: Ats) -> None:
    home_keyring().parent.mkdir(parents=True)
    home_keyring().write_text("{oops")
    result = ats("keys", "list")
    assert result.code == 1
    assert result.err.startswith(f"Error: malformed keyring {home_keyring()}")


def test_create_encrypted_checks_its_options_before_calling_the_server(ats: Ats) -> None:
    key = generate_keypair().public
    # No server on this URL: each failure must happen before any request.
    url = ("-u", "http://127.0.0.1:9")
    lonely = ats("create", "t", "--sender", "me", *url)
    assert lonely.code == 2 and "needs --encrypt-for" in lonely.err
    no_identity = ats("create", "t", "--encrypt-for", key, *url)
    assert no_identity.code == 1 and "ats keys gen" in no_identity.err
    ats("keys", "gen")
    garbage = ats("create", "t", "--encrypt-for", "nobody", *url)
    assert garbage.code == 2 and "not a trusted name nor a public key" in garbage.err
    bad_sender = ats("create", "t", "--encrypt-for", key, "--sender", "a b", *url)
    assert bad_sender.code == 2 and "invalid key name" in bad_sender.err


# -- against a real server ------------------------------------------------------------------------

DISPATCHER_ACTOR = Actor(ActorType.AGENT, "dispatcher", "Dispatcher")


def sdk(url: str, operation: Any) -> Any:
    async def go() -> Any:
        async with AsyncClient(url, DISPATCHER_ACTOR) as client:
            return await operation(client)

    return asyncio.run(go())


def test_encrypted_round_trip(server_url: str, ats: Ats, tmp_path: Path) -> None:
    u = ("-u", server_url)
    dispatcher_ring = str(tmp_path / "dispatcher.json")
    submitter = ok(ats, "keys", "gen")["public"]
    dispatcher = ok(ats, "keys", "gen", "--keyring", dispatcher_ring)["public"]
    ok(ats, "keys", "add", "alice", submitter, "--keyring", dispatcher_ring)
    ok(ats, "keys", "add", "the-bot", dispatcher)

    created = ok(
        ats,
        "create",
        "rotate the prod password",
        "-d",
        "secret details — ünïcode",
        "--payload",
        '{"target": "db-main"}',
        "--encrypt-for",
        "the-bot",  # a trusted name; a raw public key works too
        "--sender",
        "alice",
        "-c",
        "secure",
        "-p",
        "8",
        *u,
    )
    stored: Task = sdk(server_url, lambda c: c.get_task(created["id"]))
    assert stored.title == "Encrypted task" and stored.description is None
    assert stored.channel == "secure" and stored.priority == 8
    assert set(stored.payload) == {"encrypted", "sender", "nonce", "ciphertext"}
    everything = json.dumps(stored.to_json(), ensure_ascii=False)
    for secret in ("rotate", "prod", "secret details", "db-main"):
        assert secret not in everything

    # The dispatcher's side, as ats dispatch does it.
    claimed: Task = sdk(server_url, lambda c: c.claim(stored.id))
    opened = open_task(claimed, Keyring.load(Path(dispatcher_ring)), require_encryption=True)
    assert opened.title == "rotate the prod password"
    assert opened.description == "secret details — ünïcode"
    assert opened.payload == {"target": "db-main"} and opened.sender_name == "alice"
    identity = Keyring.load(Path(dispatcher_ring)).identity
    assert identity is not None
    outputs = seal_outputs({"answer": "rotated ✓"}, opened, identity)
    done: Task = sdk(
        server_url, lambda c: c.complete(stored.id, outputs, lease_token=claimed.lease_token)
    )
    assert "rotated" not in json.dumps(done.to_json(), ensure_ascii=False)

    result = ats("task", "decrypt", str(stored.id), *u)
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"answer": "rotated ✓"}
    assert "Sealed by 'the-bot'" in result.err

    # Someone else's key pair cannot read it.
    other_ring = str(tmp_path / "other.json")
    ats("keys", "gen", "--keyring", other_ring)
    stranger = ats("task", "decrypt", str(stored.id), "--keyring", other_ring, *u)
    assert stranger.code == 1 and "wrong key or tampered ciphertext" in stranger.err
    assert stranger.out == ""


def test_decrypt_without_an_encrypted_result(server_url: str, ats: Ats) -> None:
    u = ("-u", server_url)
    ats("keys", "gen")
    plain = ok(ats, "create", "plain task", *u)
    result = ats("task", "decrypt", str(plain["id"]), *u)
    assert result.code == 1
    assert result.err == f"Error: task #{plain['id']} has no encrypted result (status: pending)\n"
    assert ats("task", "decrypt", "999999", *u).code == 3
