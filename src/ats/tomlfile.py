"""Settings files in TOML (``.ats/dispatch.toml``, ``.ats/delegation.toml``): found from the
current directory upwards, read strictly into a pydantic model, every problem one clear line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ats.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of a settings file's sections: an unknown key or a value of the wrong type is an
    error, never silently a default."""

    model_config = ConfigDict(extra="forbid", strict=True)


def find_upwards(start: Path, name: str) -> Path | None:
    """``.ats/<name>`` in ``start`` or the nearest parent that has one."""
    for folder in (start, *start.parents):
        candidate = folder / ".ats" / name
        if candidate.is_file():
            return candidate
    return None


def read(path: Path, model: type[M], what: str) -> M:
    """The file as ``model``; InvalidInput naming ``what`` (e.g. "config file"), the path and
    the first wrong key or value."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{what} {path} is not valid TOML: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise InvalidInput(f"{what} {path}: {where}: {message}") from None
