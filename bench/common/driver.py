"""What every per-backend benchmark script does around its measurements: run each backend in
turn, print its tables, keep the logs when asked (or when the server logged an error), write the
JSON result file, and turn failures into the exit status."""

from __future__ import annotations

import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rich.console import Console

from bench.common.results import source_version
from bench.common.target import Backend


class Outcome(Protocol):
    server_log: str | None

    def failed(self) -> bool: ...


R = TypeVar("R", bound=Outcome)


def backends(choice: str) -> list[Backend]:
    return ["sqlite", "postgres"] if choice == "both" else [choice]  # type: ignore[list-item]


async def drive(
    script: str,
    argv: list[str],
    *,
    choice: str,
    plan: Mapping[str, Any],
    duration: float,
    keep_logs: bool,
    measure: Callable[[Backend, Path, Console], Awaitable[R]],
    render: Callable[[Console, str, R, dict[str, Any]], None],
    write_json: Callable[[dict[str, R], dict[str, Any]], Path],
) -> int:
    console = Console(width=None if sys.stdout.isatty() else 170)
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration": duration,
        "plan": dict(plan),
        "python": platform.python_version(),
        "command": " ".join([f"python -m bench run {script}", *argv]),
        **source_version(),
    }
    console.print(f"measuring {meta['ats_source']} at {meta['commit']} (dirty: {meta['dirty']})")
    results: dict[str, R] = {}
    logs = tempfile.mkdtemp(prefix=f"ats_bench_{script}_")
    try:
        for backend in backends(choice):
            results[backend] = await measure(backend, Path(logs), console)
            render(console, backend, results[backend], meta)
    finally:
        if keep_logs or any(r.server_log for r in results.values()):
            console.print(f"logs: {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)
    path = write_json(results, meta)
    console.print(f"results: {path}")
    return 1 if any(r.failed() for r in results.values()) else 0
