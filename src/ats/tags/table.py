"""The dispatch table: which delegated noun goes to which command, in which order.

Built-in defaults equal the reference tool's: brainstorm, direct, research, fix,
implementation → ``implement``, loop, chores, documentation → ``document``; review and rework
need a person and are not dispatchable. A TOML file amends them: ``--table FILE``, else
``.ats/delegation.toml`` in the current directory or a parent (``examples/delegation.toml``
documents every key). Unknown keys and wrong types are errors: a typo must not silently route
work to a default command.

A command is a template split like a shell line (``shlex``) and run without a shell, so a path
with spaces stays one argument. Placeholders, replaced inside each argument:
``{file}`` one claimed file (the command runs once per file), ``{files}`` every claimed file of
the group (once per group; as its own argument it becomes one argument per file), ``{noun}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import Field

from ats.errors import InvalidInput
from ats.tomlfile import Strict, find_upwards, read

TABLE_NAME = "delegation.toml"
NOUN = re.compile(r"[a-z][a-z0-9-]*")
PLACEHOLDERS = frozenset({"file", "files", "noun"})
_FIELD = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Route:
    noun: str
    command: str | None  # None: nothing to run (claimed items stay with whoever claimed them)
    priority: int  # higher is claimed and routed first, like task priorities
    dispatchable: bool  # False: a person must do it; `watch` never claims it


def _default(noun: str, slash: str, priority: int) -> Route:
    return Route(noun, f'claude -p "/{slash} {{file}}"', priority, True)


DEFAULTS: dict[str, Route] = {
    r.noun: r
    for r in (
        _default("brainstorm", "brainstorm", 80),
        _default("direct", "direct", 70),
        _default("research", "research", 60),
        _default("fix", "fix", 50),
        _default("implementation", "implement", 40),
        _default("loop", "loop", 30),
        _default("chores", "chores", 20),
        _default("documentation", "document", 10),
        Route("review", None, 0, False),
        Route("rework", None, 0, False),
    )
}


@dataclass(frozen=True, slots=True)
class Table:
    routes: dict[str, Route]
    source: Path | None = None  # the file that amended the defaults, if any

    def route(self, noun: str) -> Route:
        """The noun's route; a noun nobody configured is claimable but not dispatchable."""
        return self.routes.get(noun) or Route(noun, None, 0, False)

    def order(self, nouns: Iterable[str]) -> list[str]:
        """Nouns by priority (highest first), ties by name, so `--yes` is deterministic."""
        return sorted(set(nouns), key=lambda n: (-self.route(n).priority, n))


class _Entry(Strict):
    command: str | None = None
    priority: int | None = None
    dispatchable: bool | None = None


class _File(Strict):
    builtin: bool = True  # false: start from an empty table instead of the defaults
    nouns: dict[str, _Entry] = Field(default_factory=dict)


def check_command(command: str, where: str) -> None:
    for name in _FIELD.findall(command):
        if name not in PLACEHOLDERS:
            known = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
            raise InvalidInput(f"{where}: unknown placeholder {{{name}}} (known: {known})")


def _merge(base: Route | None, noun: str, entry: _Entry, path: Path) -> Route:
    where = f"dispatch table {path}: nouns.{noun}"
    if not NOUN.fullmatch(noun):
        raise InvalidInput(f"{where}: not a valid noun (use [a-z][a-z0-9-]*)")
    route = base or Route(noun, None, 0, entry.command is not None)
    if entry.command is not None:
        check_command(entry.command, f"{where}.command")
        route = replace(route, command=entry.command)
    if entry.priority is not None:
        route = replace(route, priority=entry.priority)
    if entry.dispatchable is not None:
        route = replace(route, dispatchable=entry.dispatchable)
    if route.dispatchable and not route.command:
        raise InvalidInput(f"{where}: dispatchable but no command")
    return route


def load_table(path: Path | None = None, cwd: Path | None = None) -> Table:
    """The table from ``path`` (or the one found from ``cwd`` upwards) over the defaults."""
    path = path or find_upwards((cwd or Path.cwd()).resolve(), TABLE_NAME)
    if path is None:
        return Table(dict(DEFAULTS))
    file = read(path, _File, "dispatch table")
    routes = dict(DEFAULTS) if file.builtin else {}
    for noun, entry in file.nouns.items():
        routes[noun] = _merge(routes.get(noun), noun, entry, path)
    return Table(routes, path)
