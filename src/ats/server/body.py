"""Request bodies are read by ATS's own JSON reader (:func:`ats.jsontext.loads_checked`).

FastAPI reads JSON bodies with the standard library, which takes ``NaN`` and ``Infinity``, lone
UTF-16 surrogates and documents nested a thousand levels deep — none of which can be stored and
given back as sent — and reads integers of any size, which orjson then cannot write. Routes of
this app use :class:`JsonRoute`, whose requests parse with the strict reader and refuse such
bodies with a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from ats.errors import InvalidInput
from ats.jsontext import JsonError, loads_checked


class BodyError(InvalidInput, HTTPException):
    """An unreadable body, raised from ``Request.json``.

    FastAPI turns any other error raised while it reads a body into a generic "error parsing the
    body"; an ``HTTPException`` it lets through. Exception handlers are looked up along the MRO,
    and :class:`InvalidInput` comes first, so the app's one ``AtsError`` handler answers it.
    """

    def __init__(self, message: str, field: str) -> None:
        InvalidInput.__init__(self, message, field=field)
        self.status_code = self.status
        self.detail = message
        self.headers = None


def parse(raw: bytes) -> Any:
    """A body from outside, or :class:`BodyError`."""
    try:
        return loads_checked(raw)
    except JsonError as exc:
        if exc.path:
            raise BodyError(exc.message, exc.path) from None
        raise BodyError(f"malformed JSON body: {exc.message.removeprefix('malformed JSON: ')}",
                        "body") from None  # fmt: skip


class JsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse(await self.body())
        return self._json


class JsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(JsonRequest(request.scope, request.receive))

        return route
