"""The status machine of SPEC §2.2 as pure functions over immutable tasks.

The store calls :func:`apply` inside its transaction, with the row locked, and writes back the task
it returns; nothing here touches a database, so every rule is testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, assert_never

from ats.errors import Conflict
from ats.models import SYSTEM, Actor, EventType, Millis, Status, Task


@dataclass(frozen=True, slots=True)
class Claim:
    lease_ms: int
    lease_token: int | None = None


@dataclass(frozen=True, slots=True)
class Complete:
    outputs: Any = None
    lease_token: int | None = None


@dataclass(frozen=True, slots=True)
class Fail:
    reason: str | None = None
    lease_token: int | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reopen:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Release:
    delay_ms: int = 0
    reason: str | None = None
    lease_token: int | None = None
    refund_attempt: bool = False


@dataclass(frozen=True, slots=True)
class Update:
    """PATCH: only the fields that were sent (None = not sent)."""

    title: str | None = None
    description: str | None = None
    priority: int | None = None
    status: Status | None = None
    type: str | None = None
    channel: str | None = None
    payload: dict[str, Any] | None = None
    clear_description: bool = False


@dataclass(frozen=True, slots=True)
class ExpireLease:
    """The reaper found the lease past its expiry."""


Action = Claim | Complete | Fail | Reject | Cancel | Reopen | Release | Update | ExpireLease


@dataclass(frozen=True, slots=True)
class Outcome:
    task: Task
    events: tuple[EventType, ...]


def _refuse(task: Task, verb: str, why: str = "") -> Conflict:
    # Clients match on the "<status> status" substring; keep it in every refusal.
    text = f"Cannot {verb} task {task.id} in {task.status.value} status"
    return Conflict(f"{text}: {why}" if why else text, status=task.status.value)


def _holder(task: Task) -> str:
    return task.assignee.id if task.assignee else "nobody"


def _held_by_other(task: Task, actor: Actor) -> bool:
    return task.assignee is not None and task.assignee.key != actor.key


def _check_token(task: Task, verb: str, token: int | None) -> None:
    if token is not None and token != task.lease_token:
        raise _refuse(task, verb, f"lease token {token} is stale (current is {task.lease_token})")


def lease_expired(task: Task, now: Millis) -> bool:
    return (
        task.status is Status.IN_PROGRESS
        and task.lease_expires is not None
        and task.lease_expires <= now
    )


def outputs_list(outputs: Any) -> list[Any] | None:
    """``complete`` stores an array; a non-array value is wrapped."""
    if outputs is None:
        return None
    return outputs if isinstance(outputs, list) else [outputs]


def _finish(task: Task, status: Status, now: Millis, **changes: Any) -> Task:
    return replace(
        task, status=status, lease_expires=None, updated_at=now, completed_at=now, **changes
    )


def apply(
    task: Task, action: Action, actor: Actor, now: Millis, blockers: list[tuple[int, str]]
) -> Outcome:
    """Return the task after ``action`` and the events it emits, or raise Conflict/InvalidInput.

    ``blockers`` lists the dependencies of ``task`` that are not completed yet (id, status).
    """
    status = task.status
    match action:
        case Claim(lease_ms=lease_ms, lease_token=token):
            if status is Status.IN_PROGRESS and not lease_expired(task, now):
                if _held_by_other(task, actor):
                    holder = _holder(task)
                    raise Conflict(
                        f"Task {task.id} is already claimed (in_progress status) by {holder}",
                        status=status.value,
                    )
                _check_token(task, "renew", token)
                renewed = replace(task, lease_expires=Millis(now + lease_ms), updated_at=now)
                return Outcome(renewed, (EventType.CLAIMED,))
            if status is not Status.PENDING and status is not Status.IN_PROGRESS:
                raise _refuse(task, "claim")
            if blockers:
                waiting = ", ".join(f"#{i} ({s})" for i, s in blockers)
                raise _refuse(task, "claim", f"waiting on dependencies {waiting}")
            claimed = replace(
                task,
                status=Status.IN_PROGRESS,
                assignee=actor,
                lease_expires=Millis(now + lease_ms),
                lease_token=task.lease_token + 1,
                attempts=task.attempts + 1,
                available_at=now,
                updated_at=now,
            )
            if status is Status.IN_PROGRESS:  # an expired lease taken over before the reaper ran
                return Outcome(claimed, (EventType.LEASE_EXPIRED, EventType.CLAIMED))
            return Outcome(claimed, (EventType.CLAIMED,))
        case Complete(outputs=outputs, lease_token=token):
            _check_active(task, actor, "complete", token)
            return Outcome(
                _finish(task, Status.COMPLETED, now, outputs=outputs_list(outputs)),
                (EventType.COMPLETED,),
            )
        case Fail(reason=reason, lease_token=token):
            _check_active(task, actor, "fail", token)
            return Outcome(_finish(task, Status.FAILED, now, reason=reason), (EventType.FAILED,))
        case Reject(reason=reason):
            if status.terminal:
                raise _refuse(task, "reject")
            return Outcome(
                _finish(task, Status.REJECTED, now, reason=reason), (EventType.REJECTED,)
            )
        case Cancel(reason=reason):
            if status.terminal:
                raise _refuse(task, "cancel")
            return Outcome(
                _finish(task, Status.CANCELLED, now, reason=reason or task.reason),
                (EventType.CANCELLED,),
            )
        case Reopen(reason=reason):
            if not status.terminal:
                raise _refuse(task, "reopen")
            reopened = replace(
                task,
                status=Status.PENDING,
                lease_expires=None,
                reason=reason,
                available_at=now,
                updated_at=now,
                completed_at=None,
            )
            return Outcome(reopened, (EventType.REOPENED,))
        case Release(delay_ms=delay_ms, reason=reason, lease_token=token, refund_attempt=refund):
            if status is not Status.IN_PROGRESS:
                raise _refuse(task, "release")
            if _held_by_other(task, actor):
                raise _refuse(task, "release", f"it is held by {_holder(task)}")
            _check_token(task, "release", token)
            released = replace(
                task,
                status=Status.PENDING,
                lease_expires=None,
                reason=reason if reason is not None else task.reason,
                available_at=Millis(now + delay_ms),
                updated_at=now,
                attempts=max(task.attempts - 1, 0) if refund else task.attempts,
            )
            return Outcome(released, (EventType.RELEASED,))
        case Update():
            return Outcome(_update(task, action, now), (EventType.UPDATED,))
        case ExpireLease():
            if not lease_expired(task, now):
                raise _refuse(task, "expire the lease of")
            if task.max_attempts is not None and task.attempts >= task.max_attempts:
                reason = f"Exceeded max retry attempts ({task.max_attempts}): lease expired"
                failed = _finish(task, Status.FAILED, now, reason=reason)
                return Outcome(failed, (EventType.LEASE_EXPIRED, EventType.FAILED))
            expired = replace(
                task, status=Status.PENDING, lease_expires=None, available_at=now, updated_at=now
            )
            return Outcome(expired, (EventType.LEASE_EXPIRED,))
        case _:
            assert_never(action)


def _check_active(task: Task, actor: Actor, verb: str, token: int | None) -> None:
    """complete/fail: pending or in_progress; in_progress only by the lease holder."""
    if task.status is Status.PENDING:
        _check_token(task, verb, token)
        return
    if task.status is not Status.IN_PROGRESS:
        raise _refuse(task, verb)
    if _held_by_other(task, actor):
        raise _refuse(task, verb, f"it is claimed by {_holder(task)}")
    _check_token(task, verb, token)


def _update(task: Task, u: Update, now: Millis) -> Task:
    changes: dict[str, Any] = {"updated_at": now}
    for name in ("title", "priority", "type", "channel", "payload"):
        value = getattr(u, name)
        if value is not None:
            changes[name] = value
    if u.description is not None or u.clear_description:
        changes["description"] = u.description
    if u.status is not None and u.status is not task.status:
        new = u.status
        changes["status"] = new
        if new is Status.IN_PROGRESS:
            pass  # a manual move keeps whatever lease there is; the reaper ignores a null lease
        else:
            changes["lease_expires"] = None
        if new.terminal:
            changes["completed_at"] = now
        elif task.status.terminal:
            changes["completed_at"] = None
        if new is Status.PENDING:
            changes["available_at"] = now
    return replace(task, **changes)


def cascade_failure(
    dependent: Task, dependency_id: int, dependency_status: str, now: Millis
) -> Outcome:
    """A dependency failed or was cancelled: its pending dependent fails with it."""
    reason = f"Blocked: dependency #{dependency_id} ({dependency_status})"
    return Outcome(_finish(dependent, Status.FAILED, now, reason=reason), (EventType.FAILED,))


CASCADING = frozenset({Status.FAILED, Status.CANCELLED})
CASCADE_ACTOR = SYSTEM
