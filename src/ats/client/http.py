"""The wire: one httpx connection, identity headers, tracing, JSON in and out, errors mapped back.

Every request carries the caller's ``X-Actor-*`` headers. A non-2xx answer becomes the
:mod:`ats.errors` class the server raised (``error_from_response``); a connection failure becomes
:class:`~ats.errors.Unavailable` naming the URL, so a CLI user sees which server they could not
reach.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from typing import Any

import httpx

from ats import redact
from ats.errors import AtsError, Unavailable, error_from_response
from ats.jsontext import dumps, loads
from ats.models import Actor

Trace = Callable[[str], None]
Params = Mapping[str, str | int | bool | None]

# Raw JSON bodies of the responses received while a capture_json() block is active. A context
# variable rather than an attribute: concurrent tasks sharing one client each see their own.
_captured: ContextVar[list[Any] | None] = ContextVar("ats_captured_json", default=None)


@contextlib.contextmanager
def capture_json() -> Iterator[list[Any]]:
    """Collect the decoded body of every response received inside the block, in order.

    The typed methods return dataclasses; this is how a caller that must reproduce exactly what
    the server sent (``ats … -f json``) gets the original JSON as well.
    """
    bodies: list[Any] = []
    token = _captured.set(bodies)
    try:
        yield bodies
    finally:
        _captured.reset(token)


def actor_headers(actor: Actor) -> dict[str, str]:
    return {"X-Actor-Type": actor.type.value, "X-Actor-ID": actor.id, "X-Actor-Name": actor.name}


class Connection:
    """An ``httpx.AsyncClient`` bound to one server URL and one actor."""

    def __init__(
        self,
        url: str,
        actor: Actor,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        trace: Trace | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.actor = actor
        # -v lines quote URLs (the server's, callback URLs in bodies) and may quote headers:
        # passwords, tokens and credential query values never reach the terminal. Our own
        # query parameters (status, channel, limit …) stay readable.
        self._trace = (lambda line: trace(redact.text(line, query="secrets"))) if trace else None
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers={"Accept": "application/json", **actor_headers(actor)},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body of a 2xx answer, raise otherwise."""
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        content = dumps(json) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        started = time.perf_counter()
        if self._trace:
            shown = httpx.URL(self.url + path, params=query)
            self._trace(f"> {method} {shown}" + (f" {content.decode()}" if content else ""))
        try:
            response = await self._http.request(
                method, path, content=content, params=query, headers=headers
            )
        except httpx.TransportError as exc:
            detail = str(exc) or type(exc).__name__
            where = redact.url(self.url)
            raise Unavailable(f"cannot reach the ATS server at {where} ({detail})") from exc
        if self._trace:
            ms = (time.perf_counter() - started) * 1000
            self._trace(f"< {response.status_code} {response.reason_phrase} ({ms:.1f} ms)")
        body = _decode(response)
        if not response.is_success:
            raise error_from_response(response.status_code, body)
        sink = _captured.get()
        if sink is not None:
            sink.append(body)
        return body

    def trace_line(self, text: str) -> None:
        if self._trace is not None:
            self._trace(text)

    async def exchange(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        """A request whose bodies are not one JSON document (JSON Lines, say): the response of
        a 2xx answer, the mapped error otherwise."""
        headers = {"Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        size = f" ({len(content)} bytes)" if content else ""
        self.trace_line(f"> {method} {self.url}{path}{size}")
        started = time.perf_counter()
        try:
            response = await self._http.request(method, path, content=content, headers=headers)
        except httpx.TransportError as exc:
            detail = str(exc) or type(exc).__name__
            where = redact.url(self.url)
            raise Unavailable(f"cannot reach the ATS server at {where} ({detail})") from exc
        ms = (time.perf_counter() - started) * 1000
        self.trace_line(f"< {response.status_code} {response.reason_phrase} ({ms:.1f} ms)")
        if not response.is_success:
            raise error_of(response)
        return response

    def stream(
        self, path: str, params: Params, headers: Mapping[str, str], read_timeout: float
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """A GET whose body is read as it arrives (``async with``)."""
        query = {k: _param(v) for k, v in params.items() if v is not None}
        self.trace_line(f"> GET {httpx.URL(self.url + path, params=query)} (stream)")
        timeout = httpx.Timeout(10.0, read=read_timeout)
        return self._http.stream("GET", path, params=query, headers=headers, timeout=timeout)


def error_of(response: httpx.Response) -> AtsError:
    """The :mod:`ats.errors` class a non-2xx answer stands for."""
    return error_from_response(response.status_code, _decode(response))


def _param(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return loads(response.content)
    except ValueError:
        # Not our server (a proxy's HTML error page, say): keep the text for the message.
        text = response.text.strip().replace("\n", " ")[:200]
        return {"error": f"HTTP {response.status_code}: {text}"}
