"""Which methods a path takes: the ``Allow`` header of a 405 (RFC 9110 §15.5.6).

Starlette names the methods of the first route whose path matched, but a path is served by
several routes (``GET``, ``PATCH`` and ``DELETE /tasks/{task_id}`` are three), so its 405 listed
one of them. And ``PATCH /tasks/claim`` reached ``PATCH /tasks/{task_id}``, whose 400 ("task_id
must be an integer") is true but beside the point: ``/tasks/claim`` is a resource of its own,
which takes ``POST`` only. The resource is the most literal template that matches the path.
"""

from __future__ import annotations

import re
from functools import cache

from fastapi.routing import iter_route_contexts
from starlette.requests import Request
from starlette.types import ASGIApp

_PARAM = re.compile(r"\{[^}]+\}")

Templates = tuple[tuple[re.Pattern[str], int, frozenset[str]], ...]


@cache
def _templates(app: ASGIApp) -> Templates:
    """(path regex, number of parameters, methods) of every HTTP route of ``app``."""
    found: dict[str, set[str]] = {}
    for route in iter_route_contexts(getattr(app, "routes", [])):
        path, methods = route.path_format, route.methods
        if path and methods:
            found.setdefault(path, set()).update(methods)
    return tuple(
        (_regex(path), path.count("{"), frozenset(methods)) for path, methods in found.items()
    )


def _regex(template: str) -> re.Pattern[str]:
    return re.compile("[^/]+".join(re.escape(part) for part in _PARAM.split(template)))


def allowed(request: Request) -> list[str]:
    """The methods of the resource at the request's path (empty: no such resource)."""
    path = request.url.path
    matches = [
        (n, methods) for regex, n, methods in _templates(request.app) if regex.fullmatch(path)
    ]
    if not matches:
        return []
    fewest = min(n for n, _ in matches)
    return sorted(set().union(*(methods for n, methods in matches if n == fewest)))
