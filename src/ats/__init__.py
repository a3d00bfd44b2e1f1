"""ATS, the Agent Task Service.

The public Python API: ``ats.Client`` / ``ats.AsyncClient`` (the SDK), the domain types, and the
error classes the server raises (and the client raises back).

Every name is imported on first use (``ats.Client``, ``from ats import Task``): each module of the
package imports ``ats`` first, and a command such as ``ats tag find`` must not pay for the HTTP
stack or the domain model it never touches.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ats.client import AsyncClient, Client, TaskPage
    from ats.errors import (
        AtsError,
        Conflict,
        Forbidden,
        Gone,
        InvalidInput,
        NotFound,
        PayloadTooLarge,
        Unauthorized,
        Unavailable,
    )
    from ats.models import (
        Actor,
        ActorType,
        Event,
        EventType,
        FeedEvent,
        FeedType,
        Message,
        Status,
        Task,
    )

__version__ = "0.1.0"

_WHERE = {
    **dict.fromkeys(("AsyncClient", "Client", "TaskPage"), "ats.client"),
    **dict.fromkeys(
        (
            "AtsError",
            "Conflict",
            "Forbidden",
            "Gone",
            "InvalidInput",
            "NotFound",
            "PayloadTooLarge",
            "Unauthorized",
            "Unavailable",
        ),
        "ats.errors",
    ),
    **dict.fromkeys(
        (
            "Actor",
            "ActorType",
            "Event",
            "EventType",
            "FeedEvent",
            "FeedType",
            "Message",
            "Status",
            "Task",
        ),
        "ats.models",
    ),
}

__all__ = [
    "Actor",
    "ActorType",
    "AsyncClient",
    "AtsError",
    "Client",
    "Conflict",
    "Event",
    "EventType",
    "FeedEvent",
    "FeedType",
    "Forbidden",
    "Gone",
    "InvalidInput",
    "Message",
    "NotFound",
    "PayloadTooLarge",
    "Status",
    "Task",
    "TaskPage",
    "Unauthorized",
    "Unavailable",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ats' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
