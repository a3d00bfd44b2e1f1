"""Named SQL statements kept in ``.sql`` files.

A file holds blocks introduced by ``-- name: <query_name>`` lines; everything up to the next such
line is the statement. Both backends name their statements the same way, and a test checks the two
files define the same names.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


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
