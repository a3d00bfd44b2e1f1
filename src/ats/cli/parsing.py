"""Turning what people type into what the API takes: ``--since 4h``, ``--priority 7+``, JSON, ids.

Every function raises ``typer.BadParameter`` (exit code 2, usage) with the accepted forms.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import typer

from ats.models import iso

_RELATIVE = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
SINCE_FORMS = "30m, 4h, 1d, 2w, today, yesterday, YYYY-MM-DD or an ISO-8601 time"


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min).astimezone()


def parse_since(text: str, now: datetime | None = None, hint: str | None = None) -> str:
    """``30m|4h|1d|2w|today|yesterday|YYYY-MM-DD|ISO`` → an ISO-8601 UTC time for the API.

    Calendar forms (today, yesterday, a date) mean local midnight: what the person typing means.
    """
    now = now or datetime.now(UTC)
    value = text.strip().lower()
    if match := _RELATIVE.match(value):
        delta = timedelta(**{_UNITS[match[2]]: int(match[1])})
        moment = now - delta
    elif value in ("today", "yesterday"):
        today = now.astimezone().date()
        moment = _local_midnight(today if value == "today" else today - timedelta(days=1))
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            moment = _local_midnight(date.fromisoformat(value))
        except ValueError:
            raise typer.BadParameter(f"'{text}' is not a valid date", param_hint=hint) from None
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise typer.BadParameter(f"'{text}': expected {SINCE_FORMS}", param_hint=hint) from None
        if moment.tzinfo is None:
            moment = moment.astimezone()
    return str(iso(int(moment.timestamp() * 1000)))


@dataclass(frozen=True, slots=True)
class PriorityFilter:
    priority: int | None = None
    min_priority: int | None = None
    max_priority: int | None = None


def parse_priority_filter(text: str, hint: str | None = None) -> PriorityFilter:
    """``8`` (exactly), ``7+`` (at least), ``5-8`` (between, inclusive)."""

    def number(part: str) -> int:
        try:
            value = int(part)
        except ValueError:
            message = f"'{text}': expected 8, 7+ or 5-8 (priorities 1-10)"
            raise typer.BadParameter(message, param_hint=hint) from None
        if not 1 <= value <= 10:
            raise typer.BadParameter(f"'{text}': priorities go from 1 to 10", param_hint=hint)
        return value

    value = text.strip()
    if value.endswith("+"):
        return PriorityFilter(min_priority=number(value[:-1]))
    low, dash, high = value.partition("-")
    if dash:
        lo, hi = number(low), number(high)
        if lo > hi:
            raise typer.BadParameter(f"'{text}': the range is empty", param_hint=hint)
        return PriorityFilter(min_priority=lo, max_priority=hi)
    return PriorityFilter(priority=number(value))


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{what} is not valid JSON: {exc}") from None


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    value = parse_json(text, what)
    if not isinstance(value, dict):
        raise typer.BadParameter(f"{what} must be a JSON object")
    return value


def parse_ids(text: str) -> list[int]:
    """``1,2`` or ``#1, #2`` → ``[1, 2]``."""
    ids: list[int] = []
    for item in text.split(","):
        item = item.strip().lstrip("#")
        if not item:
            continue
        if not item.isdigit():
            raise typer.BadParameter(f"'{text}': expected task ids like 1,2")
        ids.append(int(item))
    return ids


def parse_scope(text: str) -> tuple[str | None, str]:
    """``org/project`` → (org, project); a bare ``project`` → (None, project)."""
    org, slash, project = text.strip().partition("/")
    if not slash:
        return None, org
    if not org or not project or "/" in project:
        raise typer.BadParameter(f"'{text}': expected org/project or project")
    return org, project
