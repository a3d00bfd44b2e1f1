"""Client settings: flags > env > ``.ats/config`` (cwd or a parent) > ``~/.ats/config`` > defaults.

Read once by :func:`load_settings` into a frozen :class:`Settings` that is passed down; nothing
else in the client or the CLI looks at the environment or the config files.

A config file is JSON::

    {"url": "...", "organization": "...", "project": "...", "channel": "...",
     "actor": {"type": "agent", "id": "...", "name": "..."}}

Every key is optional. The project file found walking up from the current directory is the one
``ats project switch`` rewrites; ``~/.ats/config`` is the per-user file and is never mistaken for a
project file, even when the current directory is below the home directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ats.errors import InvalidInput
from ats.models import DEFAULT_ORG, DEFAULT_PROJECT, Actor, ActorType

DEFAULT_URL = "http://127.0.0.1:8765"
DEFAULT_ACTOR = Actor(ActorType.AGENT, "claude-code", "Claude Code")
CONFIG_DIR = ".ats"
CONFIG_FILE = "config"

# Setting name → environment variable. The names are also the keys of Overrides.
ENV_VARS: dict[str, str] = {
    "url": "ATS_URL",
    "organization": "ATS_ORG",
    "project": "ATS_PROJECT",
    "channel": "ATS_CHANNEL",
    "actor_type": "ATS_ACTOR_TYPE",
    "actor_id": "ATS_ACTOR_ID",
    "actor_name": "ATS_ACTOR_NAME",
}


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the command line said; None means "not given"."""

    url: str | None = None
    organization: str | None = None
    project: str | None = None
    channel: str | None = None
    actor_type: str | None = None
    actor_id: str | None = None
    actor_name: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    url: str
    organization: str
    project: str
    # True when organization or project came from a flag, the environment or a file: the client
    # then talks to the project-scoped routes; otherwise to the unscoped ones (list spans all).
    scoped: bool
    channel: str | None
    actor: Actor
    project_file: Path | None  # the nearest ./.ats/config (or a parent's), if any
    user_file: Path

    @property
    def scope(self) -> tuple[str, str] | None:
        return (self.organization, self.project) if self.scoped else None


def home_dir(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def find_project_file(cwd: Path, home: Path) -> Path | None:
    """The nearest ``.ats/config`` in cwd or a parent, skipping the per-user one."""
    user_file = (home / CONFIG_DIR / CONFIG_FILE).resolve()
    for directory in (cwd.resolve(), *cwd.resolve().parents):
        candidate = directory / CONFIG_DIR / CONFIG_FILE
        if candidate.is_file() and candidate.resolve() != user_file:
            return candidate
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """A config file as a dict ({} when absent); InvalidInput naming the file when malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from exc
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a JSON object")
    return data


def write_config_file(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(data), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _flatten(data: Mapping[str, Any], path: Path) -> dict[str, str]:
    """Config-file JSON → setting name → value, keeping only keys that are set."""
    flat: dict[str, Any] = {k: data.get(k) for k in ("url", "organization", "project", "channel")}
    actor = data.get("actor")
    if actor is not None:
        if not isinstance(actor, dict):
            raise InvalidInput(f"{path}: 'actor' must be an object")
        flat |= {f"actor_{k}": actor.get(k) for k in ("type", "id", "name")}
    out: dict[str, str] = {}
    for key, value in flat.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"{path}: '{key}' must be a string")
        out[key] = value
    return out


def load_settings(
    overrides: Overrides = Overrides(),
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve every setting once, highest priority first."""
    env = os.environ if env is None else env
    home = home_dir(env)
    user_file = home / CONFIG_DIR / CONFIG_FILE
    project_file = find_project_file(cwd or Path.cwd(), home)
    layers: list[dict[str, str]] = [
        {k: v for k, v in vars_of(overrides).items() if v is not None},
        {k: env[var] for k, var in ENV_VARS.items() if env.get(var)},
        _flatten(read_config_file(project_file), project_file) if project_file else {},
        _flatten(read_config_file(user_file), user_file),
    ]

    def pick(key: str) -> str | None:
        return next((layer[key] for layer in layers if key in layer), None)

    actor_type = pick("actor_type") or DEFAULT_ACTOR.type.value
    try:
        kind = ActorType(actor_type)
    except ValueError:
        valid = ", ".join(t.value for t in ActorType)
        raise InvalidInput(f"actor type '{actor_type}' is not one of {valid}") from None
    actor_id = pick("actor_id") or DEFAULT_ACTOR.id
    # A custom id with no name is named after itself rather than "Claude Code".
    default_name = DEFAULT_ACTOR.name if actor_id == DEFAULT_ACTOR.id else actor_id
    org, project = pick("organization"), pick("project")
    return Settings(
        url=(pick("url") or DEFAULT_URL).rstrip("/"),
        organization=org or DEFAULT_ORG,
        project=project or DEFAULT_PROJECT,
        scoped=org is not None or project is not None,
        channel=pick("channel"),
        actor=Actor(
            kind,
            actor_id,
            pick("actor_name") or default_name,
        ),
        project_file=project_file,
        user_file=user_file,
    )


def vars_of(overrides: Overrides) -> dict[str, str | None]:
    return {name: getattr(overrides, name) for name in ENV_VARS}
