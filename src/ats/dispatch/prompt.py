"""What the work sees: the prompt (title, description, payload without internal fields) and argv.

Placeholders are substituted per argv element after the command line is split, so a title with
spaces or quotes stays one argument and can never inject another (no shell is involved).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from ats.errors import InvalidInput

# Keys the dispatcher or the server acts on; they are instructions to ATS, not to the worker.
INTERNAL_KEYS = frozenset(
    {
        "callback_url",
        "quiet",
        "depends_on",
        "encrypted",
        "sender",
        "from",
        "nonce",
        "ciphertext",
        "class",
    }
)
_PLACEHOLDER = re.compile(r"\{(title|description|payload|id|channel|prompt)\}")


@dataclass(frozen=True, slots=True)
class Work:
    """A task as the executor sees it (decrypted when it came encrypted)."""

    id: int
    title: str
    description: str | None
    payload: dict[str, Any]
    channel: str
    attempt: int

    @property
    def visible_payload(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.payload.items()
            if k not in INTERNAL_KEYS and not k.startswith("_")
        }

    @property
    def prompt(self) -> str:
        parts = [self.title]
        if self.description:
            parts.append(self.description)
        visible = self.visible_payload
        if visible:
            parts.append(json.dumps(visible, indent=2, ensure_ascii=False))
        return "\n\n".join(parts) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The task as the HTTP and Python executors hand it over."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "payload": self.visible_payload,
            "channel": self.channel,
            "attempt": self.attempt,
            "prompt": self.prompt,
        }

    def fields(self) -> dict[str, str]:
        return {
            "title": self.title,
            "description": self.description or "",
            "payload": json.dumps(self.visible_payload, ensure_ascii=False, separators=(",", ":")),
            "id": str(self.id),
            "channel": self.channel,
            "prompt": self.prompt,
        }


def split_command(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(f"cannot parse the command {command!r}: {exc}") from None
    if not argv:
        raise InvalidInput("the command is empty")
    return argv


def render_argv(argv: list[str], work: Work) -> list[str]:
    values = work.fields()
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], arg) for arg in argv]
