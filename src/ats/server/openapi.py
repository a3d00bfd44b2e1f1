"""The OpenAPI document (``/openapi.json``): FastAPI's, corrected to say what the server does.

FastAPI documents what it validates, and it validates little here on purpose (no
``response_model``, no per-request dependencies on hot paths). So the document is built once,
then post-processed:

- no 422 anywhere: bad input is ``400 Error`` (:mod:`ats.server.errors`);
- the errors every operation can give are added by rule — 400 when it takes parameters, a body or
  an actor; 404 when it names something in its path (or a ``project_id``); 413 when it takes a
  body; 503 always (every operation reads the database) — while routes declare their own (409)
  with :func:`ats.server.wire.answers`;
- the ``X-Actor-*`` headers on every operation that reads the actor (they are read from the
  request directly, so FastAPI cannot see them);
- streamed answers lose the empty ``application/json`` FastAPI adds next to their real type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from ats.server.wire import ERRORS, EXTRA_SCHEMAS, Error

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_REF_TEMPLATE = "#/components/schemas/{model}"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ACTOR_HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-Actor-Type",
        "in": "header",
        "required": False,
        "description": "Who is calling: human, agent or system (agent when only X-Actor-ID is "
        "given; empty is the same as absent). Without X-Actor-* headers the caller is the "
        "anonymous human. The actor is recorded on the tasks, claims, messages and events this "
        "call writes.",
        "schema": {"type": "string", "enum": ["human", "agent", "system", ""]},
    },
    {
        "name": "X-Actor-ID",
        "in": "header",
        "required": False,
        "description": "The caller's id (a claim is renewed only by the same type + id).",
        "schema": {"type": "string", "maxLength": 200},
        "example": "claude-code",
    },
    {
        "name": "X-Actor-Name",
        "in": "header",
        "required": False,
        "description": "Display name; defaults to X-Actor-ID.",
        "schema": {"type": "string", "maxLength": 200},
        "example": "Claude Code",
    },
]


def install(app: FastAPI, actors: Iterable[APIRouter]) -> None:
    """Replace ``app.openapi``; ``actors``: the routers whose routes read the X-Actor-* headers."""
    endpoints = {r.endpoint for router in actors for r in router.routes if isinstance(r, APIRoute)}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            # Included routers are flattened lazily by FastAPI: walk them as get_openapi does.
            with_actor = {
                (str(route.path_format), method.lower())
                for route in iter_route_contexts(app.routes)
                if route.endpoint in endpoints
                for method in route.methods or ()
            }
            app.openapi_schema = correct(document, with_actor)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def correct(document: dict[str, Any], with_actor: set[tuple[str, str]]) -> dict[str, Any]:
    """Post-process FastAPI's document in place (see the module docstring); returns it."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    models: tuple[type[BaseModel], ...] = (Error, *EXTRA_SCHEMAS)
    for model in models:
        schema = model.model_json_schema(ref_template=_REF_TEMPLATE)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                _operation(path, item[method], (path, method) in with_actor)
    return document


def _operation(path: str, op: dict[str, Any], takes_actor: bool) -> None:
    params: list[dict[str, Any]] = op.setdefault("parameters", [])
    for param in params:
        param["schema"] = _present(param.get("schema", {}))
    if takes_actor:
        params.extend(dict(header) for header in ACTOR_HEADERS)
    if not params:
        del op["parameters"]
    responses: dict[str, Any] = op["responses"]
    responses.pop("422", None)
    for answer in responses.values():
        content = answer.get("content", {})
        if len(content) > 1 and content.get("application/json", {}).get("schema") == {}:
            del content["application/json"]  # a stream: FastAPI's default media type is wrong
    has_body = "requestBody" in op
    checked = [p for p in params if not (p["in"] == "path" and _is_text(p))]
    codes = {503}
    if has_body or checked:
        codes.add(400)
    if "{" in path or any(p["name"] == "project_id" for p in params):
        codes.add(404)
    if has_body:
        codes.add(413)
    for code in sorted(codes):
        responses.setdefault(str(code), {})
    for key, answer in responses.items():
        if key.isdigit() and int(key) >= 400:
            answer.setdefault("description", ERRORS.get(int(key), "Error"))
            answer["content"] = {"application/json": {"schema": _ERROR_REF}}
    op["responses"] = dict(sorted(responses.items()))


def _present(schema: dict[str, Any]) -> dict[str, Any]:
    """``X | None`` → ``X``: an optional parameter is absent, never null, in a URL."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}


def _is_text(param: dict[str, Any]) -> bool:
    """A path segment any string fits (a slug, a ULID): it cannot be malformed, only missing."""
    return bool(param.get("schema", {}).get("type") == "string")
