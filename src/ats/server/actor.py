"""The caller's identity from the X-Actor-* headers (SPEC §3)."""

from __future__ import annotations

from fastapi import Request

from ats.errors import InvalidInput
from ats.models import ANONYMOUS, Actor, ActorType

_TYPES = ", ".join(t.value for t in ActorType)


def actor_from(request: Request) -> Actor:
    """Missing headers mean the anonymous actor; an ID without a type is an agent."""
    headers = request.headers
    actor_id = headers.get("x-actor-id")
    actor_type = headers.get("x-actor-type")
    name = headers.get("x-actor-name")
    # Checked before the anonymous shortcut: a lone X-Actor-Name is ignored, but not when
    # it breaks the documented limit.
    if (actor_id and len(actor_id) > 200) or (name and len(name) > 200):
        raise InvalidInput("X-Actor-ID / X-Actor-Name: at most 200 characters", field="X-Actor-ID")
    if not actor_id and not actor_type:
        return ANONYMOUS
    try:
        kind = ActorType(actor_type.lower()) if actor_type else ActorType.AGENT
    except ValueError:
        raise InvalidInput(
            f"X-Actor-Type: unknown actor type {actor_type!r} (expected {_TYPES})",
            field="X-Actor-Type",
        ) from None
    actor_id = actor_id or ANONYMOUS.id
    return Actor(kind, actor_id, name or actor_id)
