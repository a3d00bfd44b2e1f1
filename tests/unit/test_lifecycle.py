"""The status machine as pure functions (SPEC §2.2)."""

from __future__ import annotations

import pytest

from ats import lifecycle as lc
from ats.errors import Conflict
from ats.models import ANONYMOUS, Actor, ActorType, EventType, Millis, Status, Task, TaskId

A = Actor(ActorType.AGENT, "a", "A")
B = Actor(ActorType.AGENT, "b", "B")
NOW = Millis(1_000_000)


def task(status: Status = Status.PENDING, **kw: object) -> Task:
    base: dict[str, object] = dict(
        id=TaskId(1), title="t", description=None, status=status, priority=5, type="task",
        channel="default", payload={}, outputs=None, project="default/main", source=ANONYMOUS,
        assignee=None, lease_expires=None, lease_token=0, attempts=0, max_attempts=None,
        depends_on=[], reason=None, available_at=Millis(0), created_at=Millis(0),
        updated_at=Millis(0),
    )  # fmt: skip
    base.update(kw)
    return Task(**base)  # type: ignore[arg-type]  # test factory over keyword overrides


def held(by: Actor = A, token: int = 3, expires: int = NOW + 1000) -> Task:
    return task(Status.IN_PROGRESS, assignee=by, lease_token=token, lease_expires=Millis(expires))


def test_claim_sets_holder_lease_token_attempts() -> None:
    out = lc.apply(task(), lc.Claim(60_000), A, NOW, [])
    t = out.task
    assert (t.status, t.assignee, t.lease_expires, t.lease_token, t.attempts) == (
        Status.IN_PROGRESS, A, NOW + 60_000, 1, 1,
    )  # fmt: skip
    assert out.events == (EventType.CLAIMED,)


def test_same_actor_renews_without_new_token() -> None:
    out = lc.apply(held(), lc.Claim(5000), A, NOW, [])
    assert out.task.lease_token == 3 and out.task.lease_expires == NOW + 5000


def test_other_actor_cannot_claim_a_live_lease() -> None:
    with pytest.raises(Conflict, match=r"already claimed \(in_progress status\)"):
        lc.apply(held(), lc.Claim(5000), B, NOW, [])


def test_expired_lease_can_be_taken_over() -> None:
    out = lc.apply(held(expires=NOW - 1), lc.Claim(5000), B, NOW, [])
    assert out.task.assignee == B and out.task.lease_token == 4
    assert out.events == (EventType.LEASE_EXPIRED, EventType.CLAIMED)


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED, Status.CANCELLED])
def test_terminal_refusals_name_the_status(status: Status) -> None:
    for action in (lc.Claim(1000), lc.Complete(), lc.Fail(), lc.Cancel(), lc.Reject()):
        with pytest.raises(Conflict, match=f"{status.value} status"):
            lc.apply(task(status), action, A, NOW, [])


def test_waiting_task_cannot_be_claimed() -> None:
    with pytest.raises(Conflict, match=r"pending status: waiting on dependencies #7 \(pending\)"):
        lc.apply(task(), lc.Claim(1000), A, NOW, [(7, "pending")])


def test_stale_token_is_refused() -> None:
    with pytest.raises(Conflict, match="stale"):
        lc.apply(held(token=3), lc.Complete(lease_token=2), A, NOW, [])


def test_complete_wraps_outputs() -> None:
    assert lc.apply(held(), lc.Complete("x"), A, NOW, []).task.outputs == ["x"]
    assert lc.apply(held(), lc.Complete([1, 2]), A, NOW, []).task.outputs == [1, 2]


def test_expiry_respects_max_attempts() -> None:
    again = lc.apply(held(expires=NOW - 1), lc.ExpireLease(), ANONYMOUS, NOW, [])
    assert again.task.status is Status.PENDING and again.events == (EventType.LEASE_EXPIRED,)
    spent = held(expires=NOW - 1)
    spent = task(Status.IN_PROGRESS, assignee=A, lease_expires=Millis(NOW - 1), attempts=3,
                 max_attempts=3)  # fmt: skip
    out = lc.apply(spent, lc.ExpireLease(), ANONYMOUS, NOW, [])
    assert out.task.status is Status.FAILED
    assert out.task.reason is not None and "Exceeded max retry attempts (3)" in out.task.reason
    assert out.events == (EventType.LEASE_EXPIRED, EventType.FAILED)


def test_release_with_delay() -> None:
    out = lc.apply(held(), lc.Release(delay_ms=500), A, NOW, [])
    assert out.task.status is Status.PENDING and out.task.available_at == NOW + 500
    with pytest.raises(Conflict):
        lc.apply(held(), lc.Release(), B, NOW, [])
