"""The dispatcher's view of the key ring: read per encrypted task, so an approval made with
``ats keys approve`` while the dispatcher runs takes effect at once."""

from __future__ import annotations

from pathlib import Path

from ats.dispatch.crypto import KeyPair
from ats.dispatch.keyring import Keyring, default_path
from ats.dispatch.sealed import record_pending, registration
from ats.models import Task


class KeyAccess:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def load(self) -> Keyring:
        return Keyring.load(self.path)

    def identity(self) -> KeyPair | None:
        return self.load().identity

    def register(self, task: Task) -> str:
        """Record a ``register`` task's key as pending approval; its fingerprint."""
        pubkey, name = registration(task)
        return record_pending(self.path, pubkey, name, task.id)
