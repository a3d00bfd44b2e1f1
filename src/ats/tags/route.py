"""Routing claimed items to their command from the dispatch table.

A template is split like a shell line and each argument gets its placeholders replaced, then it
runs without a shell: a file name never needs quoting and can never inject a command.
``{file}`` makes one run per file; otherwise one run per group, where an argument that is exactly
``{files}`` becomes one argument per file and ``{files}`` inside a longer argument becomes the
files joined by spaces. The runs inherit the terminal (an agent CLI may want it); their exit codes
are reported, never raised.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ats.errors import InvalidInput
from ats.tags.table import Route


@dataclass(frozen=True, slots=True)
class Run:
    noun: str
    argv: tuple[str, ...]
    files: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Result:
    run: Run
    code: int | None  # None: it could not start (see error)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0


def _fill(arg: str, noun: str, file: str, files: Sequence[str]) -> str:
    return arg.replace("{noun}", noun).replace("{files}", " ".join(files)).replace("{file}", file)


def plan(route: Route, files: Sequence[Path]) -> list[Run]:
    """The runs that route ``files`` (claimed items of ``route.noun``); [] when not dispatchable."""
    if not route.dispatchable or not route.command or not files:
        return []
    try:
        template = shlex.split(route.command)
    except ValueError as exc:
        raise InvalidInput(f"command for {route.noun!r} cannot be split: {exc}") from None
    names = [str(f) for f in dict.fromkeys(files)]
    if any("{file}" in arg for arg in template):
        return [
            Run(route.noun, tuple(_fill(a, route.noun, n, [n]) for a in template), (Path(n),))
            for n in names
        ]
    argv: list[str] = []
    for arg in template:
        if arg == "{files}":
            argv.extend(names)
        else:
            argv.append(_fill(arg, route.noun, "", names))
    return [Run(route.noun, tuple(argv), tuple(Path(n) for n in names))]


def start(run: Run) -> subprocess.Popen[bytes] | Result:
    """Start ``run``; a Result instead when it cannot start (no such command)."""
    try:
        return subprocess.Popen(run.argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        return Result(run, None, exc.strerror or str(exc))


def execute(runs: Sequence[Run]) -> list[Result]:
    """Run each in turn and wait: a claim run reports how its routes ended."""
    results = []
    for run in runs:
        proc = start(run)
        results.append(proc if isinstance(proc, Result) else Result(run, proc.wait()))
    return results
