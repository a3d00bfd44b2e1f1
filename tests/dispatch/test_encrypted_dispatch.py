"""Encrypted tasks through a real dispatcher: the submitter encrypts with ``ats create
--encrypt-for``, the dispatcher decrypts and runs, the result comes back sealed to the submitter,
who reads it with ``ats task decrypt``. Nothing on the server is readable in between."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ats import AsyncClient
from ats.models import Status

from .bots import ATS, SUBMITTER, dispatcher, wait_status

pytestmark = pytest.mark.timeout(120)


async def cli(*args: str, url: str, keyring: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *ATS,
        *args,
        env={**os.environ, "ATS_URL": url, "ATS_KEYRING": str(keyring)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def ats(server_url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server_url, SUBMITTER) as client:
        yield client


async def test_encrypted_round_trip_and_untrusted_sender(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    bot_keys, alice_keys = tmp_path / "bot.json", tmp_path / "alice.json"
    code, out, _ = await cli("keys", "gen", "-f", "json", url=server_url, keyring=bot_keys)
    assert code == 0
    bot_public = json.loads(out)["public"]
    code, out, _ = await cli("keys", "gen", "-f", "json", url=server_url, keyring=alice_keys)
    alice_public = json.loads(out)["public"]
    code, _, _ = await cli("keys", "add", "alice", alice_public, url=server_url, keyring=bot_keys)
    assert code == 0

    code, out, err = await cli(
        "create",
        "Rotate the secret sauce",
        "--channel",
        "enc",
        "--description",
        "Only the bot may read this.",
        "--payload",
        '{"recipe": "paprika"}',
        "--encrypt-for",
        bot_public,
        "--sender",
        "alice",
        "-f",
        "json",
        url=server_url,
        keyring=alice_keys,
    )
    assert code == 0, err
    task_id = json.loads(out)["id"]
    # A sender the bot does not trust: same key, a name it never heard of.
    code, out, err = await cli(
        "create",
        "Trust me",
        "--channel",
        "enc",
        "--encrypt-for",
        bot_public,
        "--sender",
        "mallory",
        "-f",
        "json",
        url=server_url,
        keyring=alice_keys,
    )
    assert code == 0, err
    mallory_id = json.loads(out)["id"]

    async with dispatcher(
        server_url,
        "-c",
        "enc",
        "--command",
        "cat",
        "--keyring",
        str(bot_keys),
        log=tmp_path / "d.log",
    ) as bot:
        done = await wait_status(ats, task_id, Status.COMPLETED)
        refused = await wait_status(ats, mallory_id, Status.REJECTED)
        assert await bot.stop() == 0
    assert refused.reason == "untrusted sender 'mallory': not in this dispatcher's trusted keys"

    stored = json.dumps((await ats.get_task(task_id)).to_json())
    for secret in ("secret sauce", "Only the bot", "paprika"):
        assert secret not in stored
    assert done.title == "Encrypted task"
    assert done.outputs is not None and done.outputs[0]["encrypted"] is True
    assert done.outputs[0]["from"] == bot_public

    code, out, err = await cli("task", "decrypt", str(task_id), url=server_url, keyring=alice_keys)
    assert code == 0, err
    assert json.loads(out) == [
        'Rotate the secret sauce\n\nOnly the bot may read this.\n\n{\n  "recipe": "paprika"\n}'
    ]
    # Someone else's key cannot read it.
    code, _, err = await cli("task", "decrypt", str(task_id), url=server_url, keyring=bot_keys)
    assert code != 0 and "cannot decrypt" in err and "Traceback" not in err


async def test_require_encryption_refuses_plaintext_and_registration_waits_for_approval(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    bot_keys, bob_keys = tmp_path / "bot.json", tmp_path / "bob.json"
    await cli("keys", "gen", url=server_url, keyring=bot_keys)
    code, out, _ = await cli("keys", "gen", "-f", "json", url=server_url, keyring=bob_keys)
    bob_public = json.loads(out)["public"]
    plain = await ats.create_task("Plain text", channel="strict")
    register = await ats.create_task(
        "Register bob", channel="strict", type="register", payload={"pubkey": bob_public}
    )
    async with dispatcher(
        server_url,
        "-c",
        "strict",
        "--command",
        "cat",
        "--require-encryption",
        "--keyring",
        str(bot_keys),
        log=tmp_path / "d.log",
    ) as bot:
        refused = await wait_status(ats, plain.id, Status.REJECTED)
        registered = await wait_status(ats, register.id, Status.COMPLETED)
        assert await bot.stop() == 0
    assert refused.reason is not None and refused.reason.startswith("encryption required")
    assert registered.outputs is not None
    fingerprint = registered.outputs[0]["fingerprint"]
    assert registered.outputs[0]["status"] == "pending_approval"
    code, out, _ = await cli("keys", "pending", "-f", "json", url=server_url, keyring=bot_keys)
    assert [p["fingerprint"] for p in json.loads(out)] == [fingerprint]
    code, _, err = await cli(
        "keys", "approve", fingerprint, "bob", url=server_url, keyring=bot_keys
    )
    assert code == 0, err
    code, out, _ = await cli("keys", "list", "-f", "json", url=server_url, keyring=bot_keys)
    assert {t["name"]: t["pubkey"] for t in json.loads(out)["trusted"]} == {"bob": bob_public}
