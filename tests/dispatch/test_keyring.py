"""The keyring file: its shape, its safety on disk, writers that never lose each other's work."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ats.dispatch.crypto import fingerprint, generate_keypair
from ats.dispatch.keyring import Keyring, default_path
from ats.errors import Conflict, InvalidInput, NotFound

KEY = generate_keypair().public


def test_missing_file_is_an_empty_keyring(tmp_path: Path) -> None:
    k = Keyring.load(tmp_path / "nope.json")
    assert k.identity is None and k.trusted == {} and k.pending == {}


def test_default_path_env_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ATS_KEYRING", raising=False)
    assert default_path() == tmp_path / ".ats" / "keyring.json"
    monkeypatch.setenv("ATS_KEYRING", str(tmp_path / "k.json"))
    assert default_path() == tmp_path / "k.json"


def test_written_file_is_private_complete_and_has_the_documented_shape(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "keyring.json"
    pair = generate_keypair()

    def change(k: Keyring) -> None:
        k.identity = pair
        k.trust("alice", KEY)

    Keyring.update(path, change)
    fp = Keyring.update(path, lambda k: k.request(pair.public, name="me", task_id=7))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["keyring.json", "keyring.json.lock"]
    data = json.loads(path.read_text())
    assert data["identity"] == {"public": pair.public, "secret": pair.secret}
    assert data["trusted"] == {"alice": KEY}
    assert data["pending"][fp]["pubkey"] == pair.public
    assert data["pending"][fp]["name"] == "me" and data["pending"][fp]["task_id"] == 7
    assert data["pending"][fp]["requested_at"].endswith("Z")
    loaded = Keyring.load(path)
    assert loaded.identity == pair
    assert loaded.name_of(KEY) == "alice" and loaded.public_of("alice") == KEY
    assert loaded.name_of(pair.public) is None and loaded.public_of("bob") is None


def test_a_failed_change_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    Keyring.update(path, lambda k: k.trust("alice", KEY))
    before = path.read_bytes()

    def broken(k: Keyring) -> None:
        k.trusted["bob"] = generate_keypair().public
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        Keyring.update(path, broken)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("{not json", "Expecting property name"),
        ("[]", "expected a JSON object"),
        ('{"identity": "x"}', "'identity' must be an object or null"),
        ('{"identity": {"public": "a"}}', "'secret' must be a non-empty string"),
        ('{"trusted": {"a": 1}}', "'trusted' must map names to public keys"),
        ('{"pending": {"fp": {"name": "x"}}}', "'pubkey' must be a non-empty string"),
    ],
)
def test_malformed_file_names_the_path(tmp_path: Path, text: str, detail: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(text)
    with pytest.raises(InvalidInput) as raised:
        Keyring.load(path)
    assert str(path) in raised.value.message and detail in raised.value.message
    with pytest.raises(InvalidInput):  # and never overwritten by an update
        Keyring.update(path, lambda k: None)
    assert path.read_text() == text


def test_registration_approve_and_reject(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first, second = generate_keypair().public, generate_keypair().public
    fp = Keyring.update(path, lambda k: k.request(first, name="ci", task_id=1))
    assert fp == fingerprint(first)
    requested_at = Keyring.load(path).pending[fp].requested_at
    # Idempotent: asking again keeps the first request.
    assert Keyring.update(path, lambda k: k.request(first, name="other", task_id=2)) == fp
    assert Keyring.load(path).pending[fp].task_id == 1
    assert Keyring.load(path).pending[fp].requested_at == requested_at
    other = Keyring.update(path, lambda k: k.request(second, name=None, task_id=None))

    approved = Keyring.update(path, lambda k: k.approve(fp.upper(), "ci-bot"))
    assert approved.pubkey == first
    rejected = Keyring.update(path, lambda k: k.reject(other))
    assert rejected.pubkey == second
    k = Keyring.load(path)
    assert k.trusted == {"ci-bot": first} and k.pending == {}
    # A trusted key is not queued again.
    Keyring.update(path, lambda k: k.request(first, name=None, task_id=3))
    assert Keyring.load(path).pending == {}

    with pytest.raises(NotFound, match="no pending registration"):
        Keyring.update(path, lambda k: k.reject(other))
    with pytest.raises(NotFound, match="no trusted key named 'nobody'"):
        Keyring.update(path, lambda k: k.distrust("nobody"))


def test_trust_refuses_clashes(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    assert Keyring.update(path, lambda k: k.trust("alice", KEY)) is True
    assert Keyring.update(path, lambda k: k.trust("alice", KEY)) is False
    with pytest.raises(Conflict, match="'alice' is already trusted with another key"):
        Keyring.update(path, lambda k: k.trust("alice", generate_keypair().public))
    with pytest.raises(Conflict, match="already trusted as 'alice'"):
        Keyring.update(path, lambda k: k.trust("alias", KEY))
    with pytest.raises(InvalidInput, match="invalid key name"):
        Keyring.update(path, lambda k: k.trust("two words", generate_keypair().public))


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ats.dispatch.crypto import generate_keypair
    from ats.dispatch.keyring import Keyring

    path, who, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for i in range(count):
        key = generate_keypair().public
        Keyring.update(path, lambda k: k.request(key, name=f"{who}-{i}", task_id=i))
    """
)


def _writers(path: Path, processes: int, count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{n}", str(count)])
        for n in range(processes)
    ]


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    # A person approving while dispatchers record registrations.
    Keyring.update(path, lambda k: k.trust("alice", KEY))
    writers = _writers(path, processes=4, count=25)
    assert [w.wait(60) for w in writers] == [0, 0, 0, 0]
    k = Keyring.load(path)
    names = sorted(p.name or "" for p in k.pending.values())
    assert len(names) == 100
    assert names == sorted(f"w{n}-{i}" for n in range(4) for i in range(25))
    assert k.trusted == {"alice": KEY}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    Keyring.update(path, lambda k: k.trust("alice", KEY))
    writers = _writers(path, processes=2, count=40)
    reads = 0
    while any(w.poll() is None for w in writers):
        k = Keyring.load(path)  # raises InvalidInput on a torn file
        assert k.public_of("alice") == KEY
        reads += 1
    assert [w.wait(60) for w in writers] == [0, 0]
    assert reads > 0 and len(Keyring.load(path).pending) == 80


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.mkdir()  # a directory where the file should be
    with pytest.raises(InvalidInput, match=re.escape(f"cannot read keyring {path}")):
        Keyring.load(path)
    assert os.path.isdir(path)
