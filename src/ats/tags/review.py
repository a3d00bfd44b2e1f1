"""The requester's side of delegation: decide on ``#needs-X``, and take back what went stale.

Offers, in this order:

- ``#needs-X``: approve (→ ``#delegated-X``), next (→ ``#next-X``, stamped with a ``next`` mark so
  its age is known), defer (leave it), dismiss (remove the tag).
- ``#next-X`` older than ``next_after`` (24 h): re-route (→ ``#delegated-X``), defer, dismiss.
- with ``stale_claims``: ``#claimed-X`` claimed longer ago than that: release (→ ``#delegated-X``,
  the claim mark dropped), defer.

Age comes from the mark on the tag's line (``at=``); a tag written by hand or by an older tool has
none, so the file's modification time stands in for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from ats.tags.claims import LineEdit, Mark, drop_mark, retag, set_mark, stamp
from ats.tags.delegate import Item, collect
from ats.tags.edit import replace_all

NEXT_AFTER = timedelta(hours=24)


class Action(StrEnum):
    APPROVE = "approve"  # #needs-X → #delegated-X
    NEXT = "next"  # #needs-X → #next-X
    REROUTE = "reroute"  # stale #next-X → #delegated-X
    RELEASE = "release"  # stale #claimed-X → #delegated-X
    DISMISS = "dismiss"  # the tag removed
    DEFER = "defer"  # nothing


class Kind(StrEnum):
    NEEDS = "needs"
    STALE_NEXT = "stale next"
    STALE_CLAIM = "stale claim"


ACTIONS: dict[Kind, tuple[Action, ...]] = {
    Kind.NEEDS: (Action.APPROVE, Action.NEXT, Action.DEFER, Action.DISMISS),
    Kind.STALE_NEXT: (Action.REROUTE, Action.DEFER, Action.DISMISS),
    Kind.STALE_CLAIM: (Action.RELEASE, Action.DEFER),
}


@dataclass(frozen=True, slots=True)
class Offer:
    kind: Kind
    item: Item
    age: timedelta | None  # since the mark (or the file's mtime); None for #needs-X
    by: str | None = None  # who claimed it (stale claims)

    @property
    def actions(self) -> tuple[Action, ...]:
        return ACTIONS[self.kind]


def _age(item: Item, kind: str, now: datetime) -> timedelta:
    mark = item.mark(kind)
    at = mark.at if mark is not None else None
    if at is None:
        at = datetime.fromtimestamp(item.path.stat().st_mtime, UTC)
    return now - at


def offers(
    paths: Sequence[Path],
    now: datetime,
    stale_claims: timedelta | None = None,
    next_after: timedelta = NEXT_AFTER,
) -> list[Offer]:
    found = [Offer(Kind.NEEDS, item, None) for item in collect("needs", paths)]
    for item in collect("next", paths):
        age = _age(item, "next", now)
        if age > next_after:
            found.append(Offer(Kind.STALE_NEXT, item, age))
    if stale_claims is not None:
        for item in collect("claimed", paths):
            age = _age(item, "claimed", now)
            if age > stale_claims:
                mark = item.mark("claimed")
                by = mark.fields.get("by") if mark else None
                found.append(Offer(Kind.STALE_CLAIM, item, age, by))
    return found


def _edit(offer: Offer, action: Action, now: datetime) -> tuple[str | None, LineEdit]:
    """The new tag (None: remove it) and the change to the line's marks."""
    noun = offer.item.noun
    if action is Action.APPROVE or action is Action.REROUTE:
        return f"#delegated-{noun}", lambda line: drop_mark(line, "next", noun)
    if action is Action.NEXT:
        mark = Mark("next", noun, {"at": stamp(now)})
        return f"#next-{noun}", lambda line: set_mark(line, mark)
    if action is Action.RELEASE:
        return f"#delegated-{noun}", lambda line: drop_mark(line, "claimed", noun)
    if action is Action.DISMISS:
        kind = "next" if offer.kind is Kind.STALE_NEXT else "needs"
        return None, lambda line: drop_mark(line, kind, noun)
    raise ValueError(f"{action} changes nothing")


def apply(offer: Offer, action: Action, now: datetime | None = None) -> bool:
    """Carry out ``action`` in one locked write; False when the tag changed meanwhile."""
    if action not in offer.actions:
        raise ValueError(f"{action} is not offered for a {offer.kind}")
    if action is Action.DEFER:
        return True
    new, edit_line = _edit(offer, action, now or datetime.now(UTC))
    item = offer.item

    def change(text: str) -> str | None:
        return retag(text, item.line, item.tag, new, edit_line)

    return replace_all(item.path, change, within=item.within)
