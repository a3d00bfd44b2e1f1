"""The ``cursor`` of ``GET /tasks``: where the next page starts, opaque to clients.

URL-safe base64 (unpadded) of compact JSON ``{"s": sort_by, "d": "asc"|"desc", "v": value,
"i": id, "f": filters}``: the last row's sort value and id, plus a digest of the filters it was
made for. A cursor only continues the listing it came from — another sort or other filters would
silently skip or repeat rows, so those are refused (400 naming ``cursor``), as is anything that
does not decode.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from ats.errors import InvalidInput
from ats.models import Task
from ats.store import TaskQuery
from ats.store.base import SORT_COLUMNS, Keyset

_TEXT_KEYS = frozenset({"title", "status"})  # the other sort keys hold integers


def _filters(q: TaskQuery) -> str:
    key = [
        q.project_id, [s.value for s in q.statuses], q.type, q.channel, q.assignee_id, q.priority,
        q.min_priority, q.max_priority, q.search, q.created_after, q.updated_after,
    ]  # fmt: skip
    text = json.dumps(key, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _direction(q: TaskQuery) -> str:
    return "desc" if q.descending else "asc"


def encode(q: TaskQuery, last: Task) -> str:
    """The cursor of the page that ends with ``last``."""
    value: Any = getattr(last, SORT_COLUMNS[q.sort_by])
    if q.sort_by == "status":
        value = last.status.value
    doc = {"s": q.sort_by, "d": _direction(q), "v": value, "i": last.id, "f": _filters(q)}
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad(why: str) -> InvalidInput:
    return InvalidInput(f"cursor: {why}", field="cursor")


def decode(text: str, q: TaskQuery) -> Keyset:
    """The position ``text`` stands for, checked against the listing ``q`` asks for."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _bad("not a cursor from this server") from None
    if not isinstance(doc, dict) or set(doc) != {"s", "d", "v", "i", "f"}:
        raise _bad("not a cursor from this server")
    if doc["s"] != q.sort_by or doc["d"] != _direction(q):
        raise _bad(f"made for sort_by={doc['s']!s:.20} {doc['d']!s:.4}; pass the same sort")
    if doc["f"] != _filters(q):
        raise _bad("made for other filters; pass the same filters as for the first page")
    value, last_id = doc["v"], doc["i"]
    want_text = q.sort_by in _TEXT_KEYS
    if (
        type(last_id) is not int
        or not 0 <= last_id < 2**63
        or (want_text and not isinstance(value, str))
        or (not want_text and (type(value) is not int or not -(2**63) <= value < 2**63))
    ):
        raise _bad("not a cursor from this server")
    return Keyset(value, last_id)
