"""The local key store: this host's key pair, trusted senders, registrations awaiting approval.

One JSON file, ``$ATS_KEYRING`` or ``~/.ats/keyring.json``::

    {"identity": {"public": B64, "secret": B64} | null,
     "trusted":  {NAME: PUBKEY},
     "pending":  {FINGERPRINT: {"pubkey": B64, "name"?: str, "task_id"?: int,
                                "requested_at": ISO}}}

Two processes write it: a running dispatcher (recording registration requests) and a person
(``ats keys approve``). ``Keyring.update`` therefore takes an exclusive ``flock`` on a sidecar
``<path>.lock`` (the data file itself is replaced on every write, so it cannot carry the lock),
re-reads the file under the lock, applies the change, and writes a temp file that is fsynced and
renamed over the original — readers see the old file or the new one, never half of one, and no
writer loses another's change. The file holds a secret key: it is created 0600 in a 0700 directory.

Readers take no lock (rename is atomic), and there is no in-process cache: the dispatcher calls
``Keyring.load`` for every task so an approval counts at once, and a stat plus a read of a few
kilobytes costs less than getting a cache keyed on mtime right on coarse-timestamp filesystems.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ats.dispatch.crypto import CryptoError, KeyPair, check_public_key, fingerprint
from ats.errors import Conflict, InvalidInput, NotFound
from ats.models import iso, now_ms

T = TypeVar("T")

ENV_VAR = "ATS_KEYRING"
MAX_NAME = 100


def default_path() -> Path:
    """``$ATS_KEYRING``, else ``$HOME/.ats/keyring.json``."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".ats" / "keyring.json"


def check_name(name: str) -> str:
    """A sender name: what goes in an envelope's ``sender`` and on ``ats keys`` lines."""
    if not name or len(name) > MAX_NAME or any(c.isspace() or not c.isprintable() for c in name):
        raise InvalidInput(
            f"invalid key name {name!r}: 1-{MAX_NAME} printable characters, no spaces"
        )
    return name


@dataclass(frozen=True, slots=True)
class PendingKey:
    """A registration request waiting for ``ats keys approve FP NAME`` (or ``reject``)."""

    pubkey: str
    requested_at: str
    name: str | None = None  # what the requester asked to be called
    task_id: int | None = None  # the ``register`` task that carried the request

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.pubkey)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"pubkey": self.pubkey}
        if self.name is not None:
            d["name"] = self.name
        if self.task_id is not None:
            d["task_id"] = self.task_id
        d["requested_at"] = self.requested_at
        return d


@dataclass(slots=True)
class Keyring:
    identity: KeyPair | None = None
    trusted: dict[str, str] = field(default_factory=dict)  # name → public key
    pending: dict[str, PendingKey] = field(default_factory=dict)  # fingerprint → request

    # -- reading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None = None) -> Keyring:
        """The keyring at ``path`` (default_path()); a missing file is an empty keyring."""
        path = path or default_path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as error:
            raise InvalidInput(f"cannot read keyring {path}: {error.strerror}") from None
        return cls.from_text(text, path)

    @classmethod
    def from_text(cls, text: str, path: Path) -> Keyring:
        try:
            data = json.loads(text) if text.strip() else {}
            return cls._from_json(data)
        except (ValueError, TypeError, KeyError, CryptoError) as error:
            raise InvalidInput(f"malformed keyring {path}: {error}") from None

    @classmethod
    def _from_json(cls, data: Any) -> Keyring:
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        identity = data.get("identity")
        if identity is not None:
            if not isinstance(identity, dict):
                raise ValueError("'identity' must be an object or null")
            identity = KeyPair(public=_text(identity, "public"), secret=_text(identity, "secret"))
        trusted = data.get("trusted") or {}
        if not isinstance(trusted, dict) or not all(isinstance(v, str) for v in trusted.values()):
            raise ValueError("'trusted' must map names to public keys")
        pending_in = data.get("pending") or {}
        if not isinstance(pending_in, dict):
            raise ValueError("'pending' must be an object")
        pending: dict[str, PendingKey] = {}
        for fp, entry in pending_in.items():
            if not isinstance(entry, dict):
                raise ValueError(f"pending entry {fp!r} must be an object")
            task_id = entry.get("task_id")
            name = entry.get("name")
            pending[fp] = PendingKey(
                pubkey=_text(entry, "pubkey"),
                requested_at=str(entry.get("requested_at") or ""),
                name=name if isinstance(name, str) else None,
                task_id=task_id if isinstance(task_id, int) else None,
            )
        return cls(identity=identity, trusted=dict(trusted), pending=pending)

    def to_json(self) -> dict[str, Any]:
        """The file's content (secret included: this is only ever written to the 0600 file)."""
        ident = self.identity
        return {
            "identity": {"public": ident.public, "secret": ident.secret} if ident else None,
            "trusted": dict(self.trusted),
            "pending": {fp: p.to_json() for fp, p in self.pending.items()},
        }

    def name_of(self, pubkey: str) -> str | None:
        """The trusted name of ``pubkey``, or None when it is not trusted."""
        key = pubkey.strip()
        return next((name for name, pub in self.trusted.items() if pub == key), None)

    def public_of(self, name: str) -> str | None:
        return self.trusted.get(name)

    # -- changing (call these inside Keyring.update) ------------------------------------------

    def trust(self, name: str, pubkey: str) -> bool:
        """Trust ``pubkey`` as ``name``; False if it already was. Conflict on a clash."""
        check_name(name)
        key = check_public_key(pubkey)
        current = self.trusted.get(name)
        if current == key:
            return False
        if current is not None:
            raise Conflict(f"'{name}' is already trusted with another key ({fingerprint(current)})")
        other = self.name_of(key)
        if other is not None:
            raise Conflict(f"key {fingerprint(key)} is already trusted as '{other}'")
        self.trusted[name] = key
        # Trusting a key answers any registration request for it.
        self.pending.pop(fingerprint(key), None)
        return True

    def distrust(self, name: str) -> str:
        """Forget ``name``; returns its key. NotFound if it is not trusted."""
        try:
            return self.trusted.pop(name)
        except KeyError:
            raise NotFound(f"no trusted key named '{name}'") from None

    def request(self, pubkey: str, *, name: str | None, task_id: int | None) -> str:
        """Record a registration request; idempotent (the first request's entry is kept).

        A key that is already trusted is not queued again. Returns the key's fingerprint.
        """
        key = check_public_key(pubkey)
        fp = fingerprint(key)
        if self.name_of(key) is None and fp not in self.pending:
            self.pending[fp] = PendingKey(
                pubkey=key, requested_at=iso(now_ms()) or "", name=name, task_id=task_id
            )
        return fp

    def approve(self, fp: str, name: str) -> PendingKey:
        request = self._pending(fp)
        self.trust(name, request.pubkey)
        return request

    def reject(self, fp: str) -> PendingKey:
        request = self._pending(fp)
        del self.pending[request.fingerprint]
        return request

    def _pending(self, fp: str) -> PendingKey:
        request = self.pending.get(fp.strip().lower())
        if request is None:
            raise NotFound(f"no pending registration with fingerprint {fp}")
        return request

    # -- writing -------------------------------------------------------------------------------

    @classmethod
    def update(cls, path: Path | None, change: Callable[[Keyring], T]) -> T:
        """Apply ``change`` to the current keyring under the lock and save it atomically.

        ``change`` mutates the keyring it is given and may return a value, passed back. If it
        raises, nothing is written.
        """
        path = path or default_path()
        with _locked(path):
            keyring = cls.load(path)
            result = change(keyring)
            _write_atomically(path, json.dumps(keyring.to_json(), indent=2) + "\n")
        return result


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{key}' must be a non-empty string")
    return value


def _ensure_dir(path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"cannot create {path.parent}: {error.strerror}") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    _ensure_dir(path)
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise InvalidInput(f"cannot open lock file {lock}: {error.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd closes, even if we crash
        yield
    finally:
        os.close(fd)


def _write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            # mkstemp creates 0600 already; say so explicitly so a change cannot loosen it.
            os.fchmod(out.fileno(), 0o600)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    # Make the rename itself durable.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
