"""JSON encoding and decoding used everywhere ATS reads or writes JSON (bodies, stored columns).

orjson is several times faster than the standard library, and strict where ATS wants strictness:
it refuses ``NaN``/``Infinity``, numbers that overflow a double and lone UTF-16 surrogates (none of
which can be stored and given back as sent). Two gaps are filled here:

* integers beyond 64 bits, which JSON allows and a payload may carry: orjson writes none of them
  and reads them as floats, so those few documents take the standard library's exact path;
* depth: a document nested hundreds of levels deep cannot be encoded again (orjson stops at 254,
  the standard library at the interpreter's recursion limit), so :func:`loads_checked` refuses
  anything deeper than :data:`MAX_DEPTH` with the path to where it gets too deep.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

MAX_DEPTH = 100
# A run of 20 digits may be an integer beyond 64 bits (2**64 has 20 digits): read exactly.
_LONG_NUMBER = re.compile(rb"\d{20}")
_NUL = b"\\u0000"


class JsonError(ValueError):
    """A document ATS will not take; ``path`` names where (``payload.a.0``), or is empty."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def dumps_text(value: Any) -> str:
    return dumps(value).decode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(raw: bytes | str) -> Any:
    """Decode a document ATS wrote or checked before: exact integers of any size."""
    value = orjson.loads(raw)
    data = raw.encode() if isinstance(raw, str) else raw
    if _LONG_NUMBER.search(data) is not None:
        return json.loads(raw, parse_constant=_no_constant)
    return value


def loads_checked(raw: bytes | str) -> Any:
    """Decode a document from outside: strict, exact, at most :data:`MAX_DEPTH` levels deep,
    no NUL character in any string (PostgreSQL cannot store one; refused on both backends).

    Raises :class:`JsonError` naming the problem and where it is.
    """
    try:
        value = loads(raw)
    except (orjson.JSONDecodeError, ValueError, RecursionError) as exc:
        text = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
        raise JsonError(f"malformed JSON: {text}") from None
    data = raw.encode() if isinstance(raw, str) else raw
    # Cheap pre-checks: a document with fewer brackets than the limit cannot be too deep, and
    # one without the escape has no NUL (a raw NUL byte is not valid JSON text).
    if data.count(b"[") + data.count(b"{") > MAX_DEPTH or _NUL in data:
        _inspect(value)
    return value


def _inspect(root: Any) -> None:
    """Walk the document once (iteratively: no recursion limit to hit)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(root, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            if len(path) >= MAX_DEPTH:
                _too_deep(path)
            for key, item in value.items():
                if "\x00" in key:
                    raise JsonError(_nul_message(path), _dotted(path))
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            if len(path) >= MAX_DEPTH:
                _too_deep(path)
            stack.extend((item, (*path, str(i))) for i, item in enumerate(value))
        elif isinstance(value, str) and "\x00" in value:
            raise JsonError(_nul_message(path), _dotted(path))


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _too_deep(path: tuple[str, ...]) -> None:
    where = _dotted(path[:3]) + (".…" if len(path) > 3 else "")
    raise JsonError(
        f"{where or 'body'}: JSON nested deeper than {MAX_DEPTH} levels", _dotted(path[:1])
    )


def _nul_message(path: tuple[str, ...]) -> str:
    return f"{_dotted(path) or 'body'}: contains a NUL character (\\u0000), which cannot be stored"
