"""What the work sees: the prompt (title, description, payload without internal fields) and argv.

Placeholders are substituted per argv element after the command line is split, so a title with
spaces or quotes stays one argument and can never inject another (no shell is involved).

One argument is still enough to inject an *option*: a title ``--config=/etc/passwd`` in
``tool {title}`` reaches the tool as a flag. So a substituted value that makes an element start
with ``-`` is refused (the task fails, saying why), unless the element comes after a literal
``--`` in the template (``tool --fixed -- {title}``), where every tool that follows the POSIX
convention reads it as an operand.
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


class UnsafeArgument(Exception):
    """A placeholder would turn an argument into an option; ``value`` is the argument."""

    def __init__(self, reason: str, value: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value


def render_argv(argv: list[str], work: Work) -> list[str]:
    """``argv`` with the placeholders replaced; :class:`UnsafeArgument` when a value would start
    an element with ``-`` before the template's first literal ``--``."""
    values = work.fields()
    rendered: list[str] = []
    operands = False  # past a literal "--": everything is an operand from here on
    for index, arg in enumerate(argv):
        value = _PLACEHOLDER.sub(lambda m: values[m.group(1)], arg)
        # Only a value that *made* the element an option counts: ``--name={title}`` is an
        # option the template wrote itself, and stays one whatever the title says.
        if index > 0 and not operands and value.startswith("-") and not arg.startswith("-"):
            names = ", ".join(f"{{{n}}}" for n in sorted(set(_PLACEHOLDER.findall(arg))))
            shown = value if len(value) <= 80 else value[:79] + "…"
            raise UnsafeArgument(
                f"refused to run: {names} made argument {index} start with '-', so the "
                "command would read it as an option; put the placeholder after a literal -- "
                "(tool --fixed -- {title})",
                shown,
            )
        operands = operands or arg == "--"
        rendered.append(value)
    return rendered
