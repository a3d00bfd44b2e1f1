"""The curated public API stays what we promise."""

import ats


def test_public_names() -> None:
    assert set(ats.__all__) == {
        "Actor", "ActorType", "AsyncClient", "AtsError", "Client", "Conflict", "Event",
        "EventType", "FeedEvent", "FeedType", "Forbidden", "Gone", "InvalidInput", "Message",
        "NotFound", "PayloadTooLarge", "Status", "Task", "TaskPage", "Unauthorized", "Unavailable",
        "__version__",
    }  # fmt: skip
    for name in ats.__all__:
        assert hasattr(ats, name), name
