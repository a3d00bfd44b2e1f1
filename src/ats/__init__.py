"""ATS, the Agent Task Service.

The public Python API: ``ats.Client`` / ``ats.AsyncClient`` (the SDK), the domain types, and the
error classes the server raises (and the client raises back).
"""

from ats.client import AsyncClient, Client, TaskPage
from ats.errors import (
    AtsError,
    Conflict,
    Forbidden,
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
