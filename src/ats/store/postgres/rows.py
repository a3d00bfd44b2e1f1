"""Row helpers the PostgreSQL port modules share: a row that must exist, a task with its path."""

from __future__ import annotations

from typing import Any, Protocol

from ats.errors import NotFound
from ats.jsontext import dumps_text
from ats.models import Message, Task
from ats.store.base import task_from_row
from ats.store.postgres.runner import Record


class Paths(Protocol):
    """Where a project's ``org/project`` path comes from (the catalog's cache)."""

    async def project_path(self, project_id: int) -> str: ...


def row_or_gone(row: Record | None) -> Record:
    """A row the statement always returns (RETURNING of a row that is known to exist)."""
    if row is None:
        raise NotFound("the row vanished while it was being changed")
    return row


def json_text(value: Any) -> str | None:
    """A JSON value as text, for a ``text[]`` parameter cast to JSON in the statement."""
    return None if value is None else dumps_text(value)


async def task_of(paths: Paths, row: Record, messages: list[Message] | None = None) -> Task:
    return task_from_row(row, await paths.project_path(row["project_id"]), messages)
