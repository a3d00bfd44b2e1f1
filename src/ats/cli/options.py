"""The root's global options as a value (light on purpose: every command reads it, and
``ats tag find`` must start without importing the HTTP client)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    url: str | None = None
    format: OutputFormat = OutputFormat.TABLE
    org: str | None = None
    project: str | None = None
    actor_type: str | None = None
    actor_id: str | None = None
    actor_name: str | None = None
    verbose: bool = False

    @property
    def json(self) -> bool:
        return self.format is OutputFormat.JSON


def global_options(obj: object) -> GlobalOptions:
    """The root context's options (defaults when a command runs outside the root app)."""
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()
