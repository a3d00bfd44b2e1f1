"""Durations on the command line and in the environment: ``30d``, ``12h``, ``15m``, ``90s``, ``90``.

A bare number is seconds. Used by settings that keep things for a while (``--events-retention``).
"""

from __future__ import annotations

import re

from ats.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")


def parse_duration(text: str, field: str = "duration") -> float:
    """Seconds in ``text``; InvalidInput naming ``field`` when it is not a duration."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidInput(
            f"{field}: {text!r} is not a duration (like 30d, 12h, 15m, 90s or seconds)",
            field=field,
        )
    return float(match[1]) * _UNITS[match[2] or "s"]


def describe(seconds: float) -> str:
    """The shortest exact spelling: ``30d``, ``12h``, ``90s``."""
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
