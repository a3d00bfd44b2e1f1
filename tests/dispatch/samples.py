"""Tasks and log capture for dispatcher unit tests."""

from __future__ import annotations

import io
import json
from typing import Any

from ats.dispatch.logs import Log
from ats.models import Task


def make_task(task_id: int = 12, **fields: Any) -> Task:
    """A task as the server would send it, with ``fields`` overriding the defaults."""
    base: dict[str, Any] = {
        "id": task_id,
        "title": "Build docs",
        "status": "completed",
        "payload": {},
        "outputs": None,
        "reason": None,
        "created_at": "2026-02-25T22:40:00.000Z",
        "updated_at": "2026-02-25T22:46:55.123Z",
        "completed_at": "2026-02-25T22:46:55.123Z",
    }
    return Task.from_json({**base, **fields})


class CapturedLog:
    """A real ``Log`` writing JSON lines into memory."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.log = Log(stream=self.stream, level="debug")

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def messages(self) -> list[str]:
        return [r["msg"] for r in self.records]
