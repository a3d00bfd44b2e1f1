"""The one place where errors become HTTP responses (SPEC §3: every body is JSON)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ats.errors import AtsError
from ats.server.allow import allowed
from ats.server.responses import JSON

log = logging.getLogger("ats.server")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 400: "invalid"}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts)


def validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """Pydantic's first complaint, rephrased to name the field (``priority: …``)."""
    errors = exc.errors()
    if not errors:
        return "invalid request", ""
    first = errors[0]
    kind = first.get("type", "")
    loc = tuple(first.get("loc", ()))
    field = _field(loc)
    if kind == "json_invalid":
        return "malformed JSON body: " + str(first.get("ctx", {}).get("error", "")), "body"
    if kind in ("model_attributes_type", "dict_type") and not field:
        return "request body must be a JSON object", "body"
    if kind == "missing" and not field:
        return "request body is required", "body"
    msg = str(first.get("msg", "invalid"))
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    return (f"{field}: {msg}" if field else msg), field


def _not_allowed(request: Request, methods: list[str]) -> Response:
    return JSON(
        {
            "error": f"Method {request.method} not allowed on {request.url.path}",
            "code": "method_not_allowed",
        },
        status_code=405,
        headers={"Allow": ", ".join(methods)},
    )


def install(app: FastAPI) -> None:
    async def ats_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AtsError)
        return JSON(exc.to_json(), status_code=exc.status)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # A template route took a literal resource's path (PATCH /tasks/claim): a wrong method.
        methods = allowed(request)
        if methods and request.method not in methods:
            return _not_allowed(request, methods)
        message, field = validation_message(exc)
        body: dict[str, Any] = {"error": message, "code": "invalid"}
        if field:
            body["field"] = field
        return JSON(body, status_code=400)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405 and (methods := allowed(request)):
            return _not_allowed(request, methods)  # every method of the path, not one route's
        code = _HTTP_CODES.get(exc.status_code, "error")
        text = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404:
            text = f"Not found: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            text = f"Method {request.method} not allowed on {request.url.path}"
        return JSON(
            {"error": text, "code": code},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSON({"error": "internal server error", "code": "internal"}, status_code=500)

    app.add_exception_handler(AtsError, ats_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
