"""Named SQL statements kept in ``.sql`` files.

A file holds blocks introduced by ``-- name: <query_name>`` lines; everything up to the next such
line is the statement. Both backends name their statements the same way, and a test checks the two
files define the same names.

Parameters are named (``:task_id``) and bound from a mapping. SQLite binds ``:name`` itself;
asyncpg knows only ``$1``, so :func:`numbered` rewrites a statement once (cached) and
:func:`bind` orders the values to match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
# A string literal, a quoted identifier, a comment or a `::type` cast pass through untouched;
# `:name` elsewhere is a parameter.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|::|:([A-Za-z_]\w*)")


def parse(text: str) -> dict[str, str]:
    queries: dict[str, str] = {}
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";").strip()
    return queries


@cache
def load(package: str) -> dict[str, str]:
    """The queries of ``<package>/queries.sql``."""
    return parse(resources.files(package).joinpath("queries.sql").read_text("utf-8"))


def migrations(package: str) -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` for every ``migrations/NNNN_name.sql`` of a backend, in order."""
    found = []
    folder = resources.files(package).joinpath("migrations")
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text("utf-8")))
    return sorted(found)


@cache
def numbered(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` with each ``:name`` as ``$n`` (the same name, the same number), and the names in
    number order."""
    names: list[str] = []

    def mark(match: re.Match[str]) -> str:
        name = match[1]
        if name is None:
            return match[0]
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _TOKEN.sub(mark, text), tuple(names)


def parameters(text: str) -> tuple[str, ...]:
    """The ``:name`` parameters of a statement, in order of first use."""
    return numbered(text)[1]


def bind(text: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The ``$n`` statement and its positional values, from named ones. A parameter the statement
    uses but ``params`` lacks is a bug: KeyError names it. Extra entries are ignored."""
    positional, names = numbered(text)
    return positional, [params[name] for name in names]
