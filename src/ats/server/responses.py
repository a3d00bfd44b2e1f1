"""JSON responses, encoded by :mod:`ats.jsontext`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ats.jsontext import dumps


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
