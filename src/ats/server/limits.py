"""Request body size limit (SPEC §10: over 1 MiB → 413 with a JSON error)."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 1024 * 1024


class BodyLimit:
    """Pure ASGI middleware: refuse by Content-Length up front, or count a streamed body."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_BODY,
        larger: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # path suffix → its own limit (bulk uploads such as imports)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for suffix, allowed in self.larger.items():
            if scope["path"].endswith(suffix):
                limit = allowed
        length: int | None = None
        headers = scope["headers"]
        for i, (name, value) in enumerate(headers):
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"content-type" and not value.startswith(b"application/json"):
                # The API speaks only JSON: `curl -d '{…}'` sends a form content type, and a
                # body is parsed as JSON whatever it is labelled.
                headers = [*headers[:i], (b"content-type", b"application/json"), *headers[i + 1 :]]
                scope = {**scope, "headers": headers}
        if length is not None:
            # The HTTP parser delivers exactly Content-Length bytes: checking it is enough.
            if length > limit:
                await self._refuse(send, limit)
            else:
                await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A body without Content-Length (chunked): count it as it arrives.

        On overflow the 413 goes out at once and the app is told the client left: raising from
        ``receive`` would not do, FastAPI turns any error while reading a body into a 400.
        """
        seen = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    refused = True
                    await self._refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is already out
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, send: Send, limit: int) -> None:
        body = orjson.dumps(
            {"error": f"request body too large (limit {limit} bytes)", "code": "too_large"}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
