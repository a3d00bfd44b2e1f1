"""The fuzz tier's budget, seed and schemathesis configuration, and its request tally.

Budget: ``ATS_FUZZ_EXAMPLES`` examples per operation and generation mode (default: a small CI
budget; ``scripts/chaos`` asks for 2000). The run is reproducible: a fixed seed (override with
``ATS_FUZZ_SEED``) and no example database, so a red run replays the same requests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import schemathesis

from tests.fuzz.checks import CHECKS, STREAM_PATHS

# /feed/import takes JSON Lines: the document calls the body a string, sent as it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

CI_EXAMPLES = 8
DEFAULT_SEED = 20_240_611
EXAMPLES = int(os.environ.get("ATS_FUZZ_EXAMPLES") or CI_EXAMPLES)
SEED = int(os.environ.get("ATS_FUZZ_SEED") or DEFAULT_SEED)
# An endless event stream is read this long (or up to this many events) before it is judged.
STREAM_READ_S = 0.3
STREAM_EVENTS = 5


def fuzz_config(*, seed: int = SEED, examples: int = EXAMPLES) -> schemathesis.Config:
    """The schemathesis configuration for this tier (see the module docstring)."""
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            # Timing-based health checks would make a pass depend on the machine's load.
            "suppress-health-check": ["all"],
            "cache": {"enabled": False},
            "request-timeout": 10,
            "generation": {
                "mode": "all",  # valid and schema-violating inputs
                "max-examples": examples,
                "database": "none",
                "unique-inputs": True,
                # NUL cannot be stored (PostgreSQL text): the server refuses it with a 400 by
                # design, so "valid" input must not contain it (invalid input still may).
                "allow-x00": False,
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                # Not run by the pytest integration; the document declares no links anyway.
                "stateful": {"enabled": False},
            },
            "checks": CHECKS,
            "operations": [
                {
                    "include-path-regex": STREAM_PATHS,
                    "request-timeout": STREAM_READ_S,
                    "max-stream-events": STREAM_EVENTS,
                }
            ],
        }
    )


@dataclass
class Tally:
    """Requests made and status codes seen on one backend (printed at the end of the run)."""

    backend: str
    operations: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, operation: str, status: int) -> None:
        self.operations.add(operation)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def merge(self, other: Tally) -> None:
        self.operations |= other.operations
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n

    def as_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "operations": sorted(self.operations),
            "statuses": self.statuses,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        statuses = {int(code): n for code, n in data["statuses"].items()}
        return cls(data["backend"], set(data["operations"]), statuses)

    def line(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        total = sum(self.statuses.values())
        return f"{self.backend}: {len(self.operations)} operations, {total} requests ({codes})"
