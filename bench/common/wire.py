"""HTTP/1.1 keep-alive connections for the load generator: a lean one, and one over httpx.

Why a hand-written client: on this 2-core machine the load generator shares the CPU with the
server. Measured against the same ``ats serve`` (README.md, "Choice of load generator"), one
httpx.AsyncClient shared by 64 tasks spends ~1 core on ~100 req/s (its pool serialises the
waiters), and 64 separate httpx clients still cost about a millisecond of client CPU per request;
this client costs a few tens of microseconds. ``--client httpx`` runs the same scenarios over
httpx, one AsyncClient per simulated worker, for comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal, Protocol

import httpx

ClientKind = Literal["lean", "httpx"]


class Connection(Protocol):
    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request; answer the status code and the raw body."""
        ...

    async def close(self) -> None: ...


class WireError(Exception):
    """The server answered something this client does not speak (or hung up)."""


class LeanConnection:
    """One keep-alive socket; responses must carry Content-Length (uvicorn's JSON ones do)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._head = head  # fixed headers, each ending in CRLF

    @classmethod
    async def open(cls, host: str, port: int, headers: dict[str, str]) -> LeanConnection:
        reader, writer = await asyncio.open_connection(host, port)
        fixed = {"Host": f"{host}:{port}", "Content-Type": "application/json", **headers}
        head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode()
        return cls(reader, writer, head)

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        payload = body or b""
        self._writer.write(
            b"%s %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (method.encode(), path.encode(), self._head, len(payload), payload)
        )
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise WireError(f"connection lost: {exc}") from exc
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
                break
        if length < 0:
            raise WireError(f"response without Content-Length: {head[:200]!r}")
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class HttpxConnection:
    """One httpx.AsyncClient per connection: a shared pool serialises its waiters."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    async def open(cls, host: str, port: int, headers: dict[str, str]) -> HttpxConnection:
        client = httpx.AsyncClient(
            base_url=f"http://{host}:{port}",
            headers={"Content-Type": "application/json", **headers},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=30.0,
        )
        return cls(client)

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        response = await self._client.request(method, path, content=body)
        return response.status_code, response.content

    async def close(self) -> None:
        await self._client.aclose()


async def connect(
    kind: ClientKind, host: str, port: int, headers: dict[str, str] | None = None
) -> Connection:
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError(f"benchmarks only talk to loopback addresses, not {host!r}")
    if kind == "lean":
        return await LeanConnection.open(host, port, headers or {})
    return await HttpxConnection.open(host, port, headers or {})
