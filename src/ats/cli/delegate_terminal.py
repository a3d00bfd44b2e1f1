"""The person at the terminal for ``ats delegate``: the questions and the summaries.

Questions use ``typer.prompt`` with a fixed set of answers, so a typo asks again instead of doing
something (checked here: typer's private click copy refuses a click ``Choice``). Everything is
printed on stdout, except the watch daemon's log lines (stderr).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import typer

from ats.errors import InvalidInput
from ats.tags.delegate import Item, Outcome, parse_selection
from ats.tags.publish import Published, SyncReport
from ats.tags.review import Action, Offer, apply
from ats.tags.route import Result, Run
from ats.tags.summary import shorten
from ats.tags.table import Route

T = TypeVar("T")
_GROUP_ANSWERS = {"a": "all", "all": "all", "c": "choose", "choose": "choose"}
_GROUP_ANSWERS |= {"s": "skip", "skip": "skip"}
_LETTER = {
    Action.APPROVE: "a",
    Action.NEXT: "n",
    Action.REROUTE: "r",
    Action.RELEASE: "r",
    Action.DEFER: "d",
    Action.DISMISS: "x",
}
_DONE = {
    Action.APPROVE: "approved",
    Action.NEXT: "parked as next",
    Action.REROUTE: "re-routed",
    Action.RELEASE: "released",
    Action.DEFER: "deferred",
    Action.DISMISS: "dismissed",
}


def log(line: str) -> None:
    """One line of the watch daemon's log, on stderr, timestamped."""
    print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {line}", file=sys.stderr, flush=True)


def _target(route: Route) -> str:
    if route.dispatchable and route.command:
        return f"routes to: {route.command}"
    return "not dispatchable: a person does it"


def _pick(question: str, answers: Mapping[str, T], default: str) -> T:
    """Ask until the answer is one of ``answers`` (case-insensitive)."""
    while True:
        text: str = typer.prompt(question, default=default)
        if text.strip().lower() in answers:
            return answers[text.strip().lower()]
        typer.echo(f"Please answer one of: {', '.join(answers)}.")


def group(route: Route, items: list[Item]) -> list[Item]:
    """Ask which items of one noun to claim: all, a choice (``1,3-4``), or none."""
    typer.echo(f"\n{route.noun}: {len(items)} item(s) ({_target(route)})")
    for number, item in enumerate(items, 1):
        typer.echo(f"  {number}. {item}  {item.summary}")
    choice = _pick("Claim [a]ll, [c]hoose or [s]kip?", _GROUP_ANSWERS, "a")
    if choice != "choose":
        return items if choice == "all" else []
    while True:
        text: str = typer.prompt("Which (e.g. 1,3-4; empty: none)", default="", show_default=False)
        try:
            return [items[k] for k in parse_selection(text, len(items))]
        except InvalidInput as exc:
            typer.echo(exc.message)


def routing(route: Route, count: int, runs: Sequence[Run], no_route: bool) -> None:
    if no_route:
        return
    if not runs:
        typer.echo(f"{route.noun}: {count} claimed, not routed ({_target(route)})")
        return
    typer.echo(f"{route.noun}: routing {count} item(s), {len(runs)} run(s): {route.command}")


def summary(outcome: Outcome, results: Sequence[Result]) -> None:
    typer.echo(f"\nclaimed: {outcome.claimed_count}")
    for noun, items in outcome.claimed.items():
        for item in items:
            typer.echo(f"  {item}  {item.tag} → #claimed-{noun}  {shorten(item.summary, 80)}")
    typer.echo(f"skipped: {len(outcome.skipped)}")
    for item in outcome.skipped:
        typer.echo(f"  {item}  {item.tag}")
    typer.echo(f"already claimed by another worker: {len(outcome.taken)}")
    for item in outcome.taken:
        typer.echo(f"  {item}  {item.tag}")
    typer.echo(f"routed: {len(results)} run(s)")
    for result in results:
        end = f"exit {result.code}" if result.code is not None else f"did not start: {result.error}"
        typer.echo(f"  {' '.join(result.run.argv)}  ({end})")


def _age(age: timedelta | None) -> str:
    if age is None:
        return ""
    hours = int(age.total_seconds() // 3600)
    return f", {hours // 24}d {hours % 24}h old" if hours >= 24 else f", {hours}h old"


def review(found: Sequence[Offer], approve_all: bool) -> None:
    """One question per offer (or its first action with ``approve_all``), then the counts."""
    done: Counter[Action] = Counter()
    raced = 0
    for offer in found:
        item = offer.item
        by = f" by {offer.by}" if offer.by else ""
        typer.echo(f"\n[{offer.kind}] {item.tag}{by}{_age(offer.age)}  {item}  {item.summary}")
        if approve_all:
            action = offer.actions[0]
        else:
            answers = {_LETTER[a]: a for a in offer.actions} | {a.value: a for a in offer.actions}
            question = ", ".join(f"[{_LETTER[a]}] {a.value}" for a in offer.actions) + "?"
            action = _pick(question, answers, _LETTER[Action.DEFER])
        if apply(offer, action):
            done[action] += 1
        else:
            raced += 1
    counts = ", ".join(f"{_DONE[a]} {done[a]}" for a in _DONE if done[a])
    typer.echo(f"\nreviewed {len(found)}: {counts or 'nothing changed'}")
    if raced:
        typer.echo(f"changed by someone else meanwhile (left alone): {raced}")


def published_json(p: Published) -> dict[str, Any]:
    return {
        **_where(p.item),
        "task": p.task.id,
        "channel": p.task.channel,
        "created": p.created,
    }


def published(items: Sequence[Published]) -> None:
    if not items:
        typer.echo("Nothing delegated.")
        return
    for p in items:
        state = "created" if p.created else "exists"
        typer.echo(f"task #{p.task.id} on {p.task.channel} ({state})  {p.item}  {p.item.tag}")
    new = sum(p.created for p in items)
    typer.echo(f"published {new} new task(s), {len(items) - new} already published")


def _where(item: Item) -> dict[str, Any]:
    return {"file": item.path.as_posix(), "line": item.line, "tag": item.tag}


def sync_json(report: SyncReport) -> dict[str, Any]:
    def rows(pairs: Sequence[tuple[Item, Any]]) -> list[dict[str, Any]]:
        return [{**_where(i), "task": t.id, "status": t.status.value} for i, t in pairs]

    return {
        "done": rows(report.done),
        "open": rows(report.open),
        "ended": rows(report.ended),
        "missing": [_where(i) for i in report.missing],
    }


def synced(report: SyncReport) -> None:
    for item, task in report.done:
        typer.echo(f"done  {item}  {item.tag} → #done-{item.noun} (task #{task.id})")
    for item, task in report.ended:
        why = f": {task.reason}" if task.reason else ""
        typer.echo(f"task #{task.id} {task.status}{why}  {item} left as {item.tag}")
    for item in report.missing:
        typer.echo(f"no task for {item} {item.tag} (run publish again)")
    typer.echo(
        f"done {len(report.done)}, open {len(report.open)}, "
        f"failed/cancelled/rejected {len(report.ended)}, missing {len(report.missing)}"
    )
