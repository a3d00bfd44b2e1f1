"""The ATS Python SDK: ``AsyncClient`` (the implementation) and ``Client`` (blocking, wraps it)."""

from ats.client.async_client import AsyncClient, TaskPage
from ats.client.http import capture_json
from ats.client.stream import EventGap, EventGapWarning
from ats.client.sync import Client

__all__ = ["AsyncClient", "Client", "EventGap", "EventGapWarning", "TaskPage", "capture_json"]
