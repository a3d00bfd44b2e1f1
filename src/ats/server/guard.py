"""Browser-origin protection: web pages the user visits must not drive the local server.

A browser lets any page send "simple" requests (a form-like ``POST`` with ``text/plain``) and open
WebSockets to any address, the user's own ``127.0.0.1`` included, and DNS rebinding lets a page
on ``evil.example`` reach it under its own name. Curl, the CLI, the SDK, the original Node CLI and
the feed skill send no ``Origin`` header and a loopback ``Host``, so they pass untouched. Three
rules, checked before anything else runs (pure ASGI, on HTTP requests and WebSocket handshakes):

* ``Host`` must name this server: an IP address (no rebinding goes through a literal address),
  ``localhost`` or ``*.localhost``, this machine's host name, or a name allowed with
  ``--allowed-host`` (``*`` allows any). Otherwise 400.
* ``Origin``, when present, must be this server's own (same host and port as ``Host``) or one
  allowed with ``--cors-origin``. Otherwise 403, and a WebSocket handshake is refused.
* A request carrying ``Origin`` and a body must label it ``application/json``: a browser sends
  ``text/plain`` without asking anyone, so such a body is never read as JSON. Otherwise 400.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ats.jsontext import dumps

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CACHE_MAX = 256


def normal_origin(text: str) -> str | None:
    """``scheme://host:port`` in lower case with the port spelled out, or None if not an origin."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


def _split_host(value: str) -> tuple[str, int | None]:
    """``Host`` header → (host name, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8765
        end = value.find("]")
        name, rest = value[1:end], value[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:
        name, port = value, ""
    try:
        return name, int(port) if port else None
    except ValueError:
        return name, -1  # not a port: matches no origin


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostPolicy:
    """Which ``Host`` names this server answers to."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        names = {a.strip().lower().rstrip(".") for a in allowed if a.strip()}
        self.any = "*" in names
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))  # ".example.com"
        self.exact = {n for n in names if not n.startswith("*")}
        own = socket.gethostname().lower()  # not getfqdn(): a DNS lookup may hang the start
        if own:
            self.exact.add(own)
        self._seen: dict[str, bool] = {}

    def allows(self, header: str) -> bool:
        known = self._seen.get(header)
        if known is None:
            known = self._decide(_split_host(header)[0].rstrip("."))
            if len(self._seen) < _CACHE_MAX:
                self._seen[header] = known
        return known

    def _decide(self, name: str) -> bool:
        if self.any or not name or _is_ip(name) or name in self.exact:
            return True
        if name == "localhost" or name.endswith(".localhost"):
            return True
        return any(name.endswith(suffix) for suffix in self.suffixes)


class BrowserGuard:
    """Pure ASGI middleware applying the three rules of the module docstring."""

    def __init__(
        self, app: ASGIApp, *, hosts: HostPolicy, cors_origins: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.cors = {o for o in (normal_origin(c) for c in cors_origins) if o is not None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        host = origin = content_type = None
        has_body = False
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                has_body = value not in (b"0", b"")
            elif name == b"transfer-encoding":
                has_body = True
        if host is not None and not self.hosts.allows(host):
            shown = host[:100]
            await _refuse(scope, send, 400, f"Host {shown!r} is not a name of this server "
                          "(allow it with --allowed-host)", "Host")  # fmt: skip
            return
        if origin is not None:
            if not self._origin_ok(origin, host):
                shown = origin[:100]
                await _refuse(scope, send, 403, f"cross-origin request from {shown!r} refused "
                              "(allow the origin with --cors-origin)", "Origin")  # fmt: skip
                return
            if (
                kind == "http"
                and has_body
                and scope["method"] in _BODY_METHODS
                and not (content_type or b"").lower().startswith(b"application/json")
            ):
                await _refuse(scope, send, 400, "Content-Type: a request body must be "
                              "application/json", "Content-Type")  # fmt: skip
                return
        await self.app(scope, receive, send)

    def _origin_ok(self, origin: str, host: str | None) -> bool:
        normal = normal_origin(origin)
        if normal is None:
            return False  # "null" (sandboxed frames, file://) or garbage
        if normal in self.cors:
            return True
        if host is None:
            return False
        scheme, _, rest = normal.partition("://")
        origin_host, _, origin_port = rest.rpartition(":")
        name, port = _split_host(host)
        if ":" in name:
            name = f"[{name}]"
        # Behind a TLS proxy the Host header may carry no port: take the origin scheme's default.
        return origin_host == name and int(origin_port) == (port or _DEFAULT_PORTS[scheme])


async def _refuse(scope: Scope, send: Send, status: int, message: str, field: str) -> None:
    code = "forbidden" if status == 403 else "invalid"
    body = dumps({"error": message, "code": code, "field": field})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if scope["type"] == "websocket":
        if "websocket.http.response" in scope.get("extensions", {}):
            start = "websocket.http.response.start"
            await send({"type": start, "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
