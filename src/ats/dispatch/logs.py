"""The dispatcher's log: one JSON object per line on stdout (``{"ts","level","msg",…}``).

``--log-format text`` prints the same records for people. Records are written whole with one
``write`` so lines from concurrent jobs never interleave.

Every message and text field passes through :func:`ats.redact.text` on the way out: the call
sites already log URLs without their secrets, and this is the net under them (an exception's
text that quotes a URL, a title someone pasted a token into).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from ats import redact

Level = Literal["debug", "info", "warning", "error"]
_ORDER: dict[str, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class Log:
    def __init__(
        self,
        *,
        text: bool = False,
        level: Level = "info",
        stream: TextIO | None = None,
    ) -> None:
        self.text = text
        self.threshold = _ORDER[level]
        self.stream = stream

    def _emit(self, level: Level, msg: str, fields: dict[str, Any]) -> None:
        if _ORDER[level] < self.threshold:
            return
        msg = redact.text(msg)
        fields = {k: redact.text(v) if isinstance(v, str) else v for k, v in fields.items()}
        now = datetime.now(UTC)
        ts = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        if self.text:
            extra = " ".join(f"{k}={_short(v)}" for k, v in fields.items())
            line = f"{ts} {level.upper():7} {msg}" + (f"  {extra}" if extra else "")
        else:
            line = json.dumps(
                {"ts": ts, "level": level, "msg": msg, **fields},
                ensure_ascii=False,
                default=str,
                separators=(",", ":"),
            )
        stream = self.stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    def debug(self, msg: str, **fields: Any) -> None:
        self._emit("debug", msg, fields)

    def info(self, msg: str, **fields: Any) -> None:
        self._emit("info", msg, fields)

    def warning(self, msg: str, **fields: Any) -> None:
        self._emit("warning", msg, fields)

    def error(self, msg: str, **fields: Any) -> None:
        self._emit("error", msg, fields)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."
