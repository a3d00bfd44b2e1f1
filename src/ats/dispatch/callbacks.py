"""Outgoing HTTP deliveries: ``payload.callback_url`` callbacks, and what notifications ride on.

A delivery is a JSON POST made in the background (the dispatcher never waits on someone else's
web server), retried with exponential backoff on connection errors, 5xx and 429, and given up on
any other 4xx — the receiver has said it will never accept this body. Bodies are compact JSON and
the signature covers exactly the bytes sent, so a receiver verifies the raw body before parsing::

    X-ATS-Signature: sha256=<hex HMAC-SHA256(secret, body)>

A callback URL comes from the task, so where it may lead is checked (see :mod:`.destinations`);
one that leads somewhere internal is refused once and never retried. The log names each delivery
by its status and its URL without the query string, and never quotes what a receiver answered:
an internal service's answer must not end up in the dispatcher's log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

import httpx

from ats import __version__, redact
from ats.dispatch.destinations import Destinations, Forbidden
from ats.dispatch.logs import Log
from ats.models import Status, Task, iso

SIGNATURE_HEADER = "X-ATS-Signature"


def callback_body(task: Task) -> dict[str, Any]:
    """What ``payload.callback_url`` receives: exactly task_id, status, result, completed_at."""
    result: Any = task.outputs if task.status is Status.COMPLETED else task.reason
    return {
        "task_id": task.id,
        "status": task.status.value,
        "result": result,
        "completed_at": iso(task.completed_at),
    }


def callback_url(payload: dict[str, Any]) -> str | None:
    """The callback address a task asked for, if any.

    Pass the *decrypted* payload for an encrypted task: the server only holds the envelope.
    """
    url = payload.get("callback_url")
    return url.strip() if isinstance(url, str) and url.strip() else None


def encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be delivered to, or None when it is a usable http(s) address."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        return f"invalid URL: {exc}"
    if parsed.scheme not in ("http", "https"):
        return f"unsupported scheme {parsed.scheme or '(none)'!r} (expected http or https)"
    if not parsed.host:
        return "URL has no host"
    return None


def shown(url: str) -> str:
    """The URL as logged: no password, no query string (webhook URLs often carry tokens)."""
    return redact.url(url, query="drop")


class _Default(Enum):
    SECRET = "the Deliveries' own secret"


Secret = str | None | Literal[_Default.SECRET]


@dataclass(frozen=True, slots=True)
class _Job:
    what: str  # "callback", "telegram", "webhook": how the log names it
    task_id: int
    url: str  # as logged
    trusted: bool  # chosen by the operator: no destination check


class Deliveries:
    """Background JSON POSTs with retries. Create it inside the event loop that runs them."""

    def __init__(
        self,
        log: Log,
        *,
        secret: str | None = None,
        attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 10.0,
        destinations: Destinations | None = None,
    ) -> None:
        self.log = log
        self.destinations = destinations or Destinations()
        self.secret = secret or None
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._timeout = timeout
        # No redirects: re-sending a POST to wherever a 30x points is not something a
        # receiver can rely on, so a redirect is reported as a refusal instead.
        self._http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": f"ats-dispatch/{__version__}"},
        )
        self._pending: dict[asyncio.Task[None], _Job] = {}
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(
        self,
        url: str,
        body: Any,
        *,
        what: str,
        task_id: int,
        secret: Secret = _Default.SECRET,
        log_url: str | None = None,
        trusted: bool = False,
    ) -> bool:
        """Schedule a POST of ``body`` to ``url``; False (and a log line) when it cannot be.

        ``secret`` overrides the signing key for this delivery (None: unsigned). ``log_url`` is
        what the log shows instead of the URL, for URLs that embed a credential (Telegram).
        ``trusted`` skips the destination check, for addresses the operator configured.
        """
        job = _Job(what, task_id, log_url or shown(url), trusted)
        problem = check_url(url)
        if problem is not None:
            self.log.warning(f"{what} skipped: {problem}", task_id=task_id, url=job.url)
            return False
        if self._closed:
            self.log.warning(f"{what} skipped: shutting down", task_id=task_id, url=job.url)
            return False
        key = self.secret if secret is _Default.SECRET else secret
        content = encode(body)
        headers = {"Content-Type": "application/json"}
        if key:
            headers[SIGNATURE_HEADER] = signature(key, content)
        task = asyncio.get_running_loop().create_task(self._deliver(url, content, headers, job))
        self._pending[task] = job
        task.add_done_callback(self._forget)
        return True

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._pending.pop(task, None)

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        delay = self.backoff * 2.0 ** (attempt - 1)
        if response is not None and response.status_code == 429:
            # Honour the receiver's own pace when it names one (Telegram does).
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                delay = max(delay, float(retry_after))
        return min(delay, self.max_backoff)

    async def _deliver(self, url: str, content: bytes, headers: dict[str, str], job: _Job) -> None:
        fields: dict[str, Any] = {"task_id": job.task_id, "url": job.url}
        try:
            outcome = ""
            for attempt in range(1, self.attempts + 1):
                response: httpx.Response | None = None
                try:
                    response = await self._post(url, content, headers, job)
                except Forbidden as exc:
                    self.log.error(
                        f"{job.what} refused: destination not allowed",
                        **fields,
                        why=exc.why,
                        hint="--allow-private-callbacks or --callback-allow-host HOST",
                    )
                    return
                except (httpx.TransportError, OSError) as exc:
                    outcome = type(exc).__name__ + (f": {exc}" if str(exc) else "")
                else:
                    code = response.status_code
                    if 200 <= code < 300:
                        self.log.info(
                            f"{job.what} delivered", **fields, attempt=attempt, status=code
                        )
                        return
                    outcome = f"HTTP {code}"
                    if code < 500 and code != 429:
                        # Never the answer's body: when the URL leads somewhere internal, that
                        # body is exactly what must not leak into a log.
                        self.log.error(
                            f"{job.what} refused, not retried",
                            **fields,
                            attempt=attempt,
                            status=code,
                        )
                        return
                if attempt == self.attempts:
                    break
                delay = self._delay(attempt, response)
                self.log.warning(
                    f"{job.what} attempt failed",
                    **fields,
                    attempt=attempt,
                    error=outcome,
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
            self.log.error(f"{job.what} gave up", **fields, attempts=self.attempts, error=outcome)
        except Exception as exc:  # a background task must never die silently
            self.log.error(f"{job.what} failed", **fields, error=f"{type(exc).__name__}: {exc}")

    async def _post(
        self, url: str, content: bytes, headers: dict[str, str], job: _Job
    ) -> httpx.Response:
        if job.trusted:
            return await self._http.post(url, content=content, headers=headers)
        async with asyncio.timeout(self._timeout):
            pinned = await self.destinations.pin(url)
        return await self._http.post(
            pinned.url,
            content=content,
            headers={**headers, **pinned.headers},
            extensions=pinned.extensions,
        )

    # One deadline for the whole drain, spread over many awaits: asyncio.timeout does not fit.
    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Let pending deliveries finish for ``timeout`` s, then abandon (and log) the rest."""
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._pending), timeout=left)
        abandoned = dict(self._pending)
        for task, job in abandoned.items():
            task.cancel()
            self.log.warning(f"{job.what} abandoned at shutdown", task_id=job.task_id, url=job.url)
        await asyncio.gather(*abandoned, return_exceptions=True)

    async def aclose(self) -> None:
        """Abandon whatever is still pending and close the connection pool."""
        if self._pending:
            await self.drain(0)
        self._closed = True
        await self._http.aclose()
