"""A scripted server for client and CLI tests: records requests, answers from a route table."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Answer = tuple[int, Any]


def task_json(task_id: int = 1, **fields: Any) -> dict[str, Any]:
    """A task as the server sends it (with an extra field a newer server might add)."""
    base: dict[str, Any] = {
        "id": task_id,
        "title": f"task {task_id}",
        "description": None,
        "status": "pending",
        "priority": 5,
        "type": "task",
        "channel": "default",
        "payload": {},
        "outputs": None,
        "project": "default/main",
        "source_type": "agent",
        "source_id": "claude-code",
        "source_name": "Claude Code",
        "assignee_type": None,
        "assignee_id": None,
        "assignee_name": None,
        "lease_expires": None,
        "lease_token": 0,
        "attempts": 0,
        "max_attempts": None,
        "depends_on": [],
        "reason": None,
        "available_at": "2026-02-25T22:46:55.000Z",
        "created_at": "2026-02-25T22:46:55.000Z",
        "updated_at": "2026-02-25T22:46:55.000Z",
        "completed_at": None,
        "from_the_future": {"kept": True},
    }
    return base | fields


@dataclass
class FakeServer:
    routes: dict[tuple[str, str], Answer | Callable[[httpx.Request], Answer]] = field(
        default_factory=dict
    )
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, status: int, body: Any) -> None:
        self.routes[(method, path)] = (status, body)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"error": "Not found", "code": "not_found"})
        status, body = answer(request) if callable(answer) else answer
        return httpx.Response(status, json=body)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_body(self) -> Any:
        content = self.last.content
        return json.loads(content) if content else None
