"""JSON encoding used everywhere ATS writes JSON (responses, stored columns).

orjson is several times faster than the standard library, but refuses integers beyond 64 bits,
which JSON itself allows (and which a payload may carry); those few values take the slow path.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def dumps_text(value: Any) -> str:
    return dumps(value).decode()
