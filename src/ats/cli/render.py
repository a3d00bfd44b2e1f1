"""Everything a person reads: tables, detail views, one-line confirmations. The only rich import."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ats.models import FeedEvent, FeedType, Message, Status, Task, now_ms

STATUS_STYLE: dict[Status, str] = {
    Status.PENDING: "yellow",
    Status.IN_PROGRESS: "cyan",
    Status.COMPLETED: "green",
    Status.CANCELLED: "dim",
    Status.FAILED: "bold red",
    Status.REJECTED: "magenta",
}

FEED_STYLE: dict[FeedType, str] = {
    FeedType.TASK_COMPLETED: "green",
    FeedType.TASK_FAILED: "bold red",
    FeedType.BLOCKER_FOUND: "bold red",
    FeedType.QUESTION: "yellow",
    FeedType.FINDING: "cyan",
    FeedType.SKILL_PROPOSED: "magenta",
    FeedType.COST_UPDATE: "dim",
    FeedType.TOKEN_UPDATE: "dim",
}


def _out() -> Console:
    # Built per call so it writes to whatever sys.stdout is now (tests capture it).
    # soft_wrap: one-line confirmations stay one line in pipes (rich assumes 80 columns there).
    return Console(highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def status_text(status: Status) -> Text:
    return Text(status.value, style=STATUS_STYLE[status])


def priority_text(priority: int) -> Text:
    style = (
        "bold red"
        if priority >= 8
        else "yellow"
        if priority >= 6
        else ""
        if priority >= 4
        else "dim"
    )
    return Text(str(priority), style=style)


def ago(ms: int | None) -> str:
    """``5m ago``, or ``in 58s`` for a time still ahead (a lease)."""
    if not ms:
        return "-"
    delta = (now_ms() - ms) // 1000
    seconds = abs(delta)
    amount = f"{seconds}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{seconds // size}{unit}"
            break
    return f"{amount} ago" if delta >= 0 else f"in {amount}"


def when(ms: int | None) -> str:
    if not ms:
        return "-"
    local = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} ({ago(ms)})"


def notice(text: str) -> None:
    """A remark for the person, on stderr, so stdout stays clean."""
    _err().print(Text(text, style="dim"))


def warning(text: str) -> None:
    """Something the person must not miss (events lost to retention): on stderr, loud."""
    _err().print(Text(f"WARNING: {text}", style="bold red"))


def line(text: str) -> None:
    _out().print(Text(text))


def task_done(verb: str, task: Task) -> None:
    """``Claimed task #5: title [in_progress]`` — one line after an action."""
    text = Text(f"{verb} task #{task.id}: {task.title} [")
    text.append_text(status_text(task.status))
    text.append("]")
    if task.status is Status.IN_PROGRESS and task.lease_expires:
        text.append(f" lease until {when(task.lease_expires)}", style="dim")
    if task.reason:
        text.append(f" reason: {task.reason}", style="dim")
    _out().print(text)


def task_table(tasks: Sequence[Task], count: int, offset: int = 0) -> None:
    if not tasks:
        notice("No tasks." if count == 0 else f"No tasks on this page ({count} in all).")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", justify="right", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("PRI", justify="right", no_wrap=True)
    table.add_column("TYPE", no_wrap=True)
    table.add_column("CHANNEL", no_wrap=True)
    table.add_column("TITLE", overflow="fold", ratio=1)
    table.add_column("ASSIGNEE", no_wrap=True)
    table.add_column("UPDATED", no_wrap=True)
    for t in tasks:
        table.add_row(
            str(t.id),
            status_text(t.status),
            priority_text(t.priority),
            t.type,
            t.channel,
            t.title,
            t.assignee.name if t.assignee else "-",
            ago(t.updated_at),
        )
    _out().print(table)
    if count > len(tasks):
        notice(f"Showing {offset + 1}-{offset + len(tasks)} of {count}.")


def _kv(rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else Text(str(value)))
    return table


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def task_detail(t: Task) -> None:
    out = _out()
    out.print(Text(f"#{t.id} {t.title}", style="bold"))
    rows: list[tuple[str, Any]] = [
        ("status", status_text(t.status)),
        ("priority", priority_text(t.priority)),
        ("type", t.type),
        ("channel", t.channel),
        ("project", t.project),
        ("created by", f"{t.source.name or t.source.id} ({t.source.type.value})"),
        ("created", when(t.created_at)),
        ("updated", when(t.updated_at)),
    ]
    if t.assignee:
        rows.append(("assignee", f"{t.assignee.name} ({t.assignee.type.value}:{t.assignee.id})"))
    if t.lease_expires:
        rows.append(("lease until", when(t.lease_expires)))
    rows.append(("attempts", f"{t.attempts}" + (f"/{t.max_attempts}" if t.max_attempts else "")))
    if t.depends_on:
        rows.append(("depends on", ", ".join(f"#{d}" for d in t.depends_on)))
    if t.reason:
        rows.append(("reason", t.reason))
    if t.completed_at:
        rows.append(("finished", when(t.completed_at)))
    out.print(_kv(rows))
    for label, value in (("description", t.description), ("payload", t.payload or None)):
        if value:
            out.print(Text(f"\n{label}:", style="bold"))
            out.print(Text(value if isinstance(value, str) else _pretty(value)))
    if t.outputs is not None:
        out.print(Text("\noutputs:", style="bold"))
        out.print(Text(_pretty(t.outputs)))
    if t.messages:
        out.print(Text(f"\nmessages ({len(t.messages)}):", style="bold"))
        message_list(t.messages)


def _part_text(part: Mapping[str, Any]) -> str:
    content = part.get("content", part.get("text", part.get("data")))
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


def message_list(messages: Sequence[Message]) -> None:
    if not messages:
        notice("No messages.")
        return
    out = _out()
    for m in messages:
        head = Text(f"[{m.id}] {m.actor.name or m.actor.id}", style="bold")
        head.append(f"  {when(m.created_at)}", style="dim")
        out.print(head)
        for part in m.parts:
            out.print(Text("  " + _part_text(part)))


def message_added(m: Message) -> None:
    _out().print(Text(f"Added message {m.id} to task #{m.task_id}"))


def stats(data: Mapping[str, Any]) -> None:
    out = _out()
    out.print(Text(f"Total tasks: {data.get('total', 0)}", style="bold"))
    by_status = data.get("by_status") or {}
    rows: list[tuple[str, Any]] = []
    for status in Status:
        if status.value in by_status:
            rows.append((status.value, by_status[status.value]))
    if rows:
        out.print(_kv(rows))
    by_channel = data.get("by_channel") or {}
    if by_channel:
        out.print(Text("\nby channel:", style="bold"))
        out.print(_kv(sorted(by_channel.items())))
    recent = data.get("recent") or {}
    avg = data.get("avg_completion_seconds")
    out.print(Text("\nrecent:", style="bold"))
    out.print(
        _kv(
            [
                (
                    "created 24h / 7d",
                    f"{recent.get('created_24h', 0)} / {recent.get('created_7d', 0)}",
                ),
                (
                    "completed 24h / 7d",
                    f"{recent.get('completed_24h', 0)} / {recent.get('completed_7d', 0)}",
                ),
                ("avg completion", f"{avg:.1f}s" if isinstance(avg, int | float) else "-"),
            ]
        )
    )


def health(data: Mapping[str, Any], url: str) -> None:
    status = str(data.get("status", "?"))
    text = Text(status, style="green" if status == "ok" else "bold red")
    text.append(f"  {url}", style="bold")
    for key in ("version", "database"):
        if data.get(key) is not None:
            text.append(f"  {key} {data[key]}", style="dim")
    _out().print(text)


def projects(items: Sequence[Mapping[str, Any]], org: str, current: str | None) -> None:
    if not items:
        notice(f"No projects in {org}.")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("")
    table.add_column("PROJECT", no_wrap=True)
    table.add_column("NAME")
    for name in ("PENDING", "IN PROGRESS", "TOTAL"):
        table.add_column(name, justify="right")
    for p in items:
        mark = "*" if p.get("slug") == current else ""
        table.add_row(
            Text(mark, style="bold green"),
            f"{org}/{p.get('slug')}",
            str(p.get("name") or ""),
            str(p.get("pending_count", "-")),
            str(p.get("in_progress_count", "-")),
            str(p.get("total_count", "-")),
        )
    _out().print(table)


def mapping(data: Mapping[str, Any], title: str | None = None) -> None:
    out = _out()
    if title:
        out.print(Text(title, style="bold"))
    rows = [
        (k, "-" if v is None else v if isinstance(v, str | int | float) else _pretty(v))
        for k, v in data.items()
    ]
    out.print(_kv(rows))


def size(n: int | None) -> str:
    """Bytes for people: 8.0 KB, 1.2 GB; "-" when unknown."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def storage(data: Mapping[str, Any]) -> None:
    """``ats db stats``: one row per table, then per index, then the database as a whole."""
    out = _out()
    tables = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("TABLE", "ROWS", "DEAD", "TABLE SIZE", "INDEXES", "TOTAL"):
        tables.add_column(name, justify="left" if name == "TABLE" else "right", no_wrap=True)
    for t in data.get("tables") or []:
        tables.add_row(
            t["name"], _count(t["rows"]), _count(t["dead_rows"]), size(t["bytes"]),
            size(t["index_bytes"]), size(t["total_bytes"]),
        )  # fmt: skip
    out.print(tables)
    indexes = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("INDEX", "TABLE", "ENTRIES", "SIZE"):
        indexes.add_column(name, justify="right" if name in ("ENTRIES", "SIZE") else "left")
    for i in data.get("indexes") or []:
        indexes.add_row(i["name"], i["table"], _count(i["rows"]), size(i["bytes"]))
    out.print()
    out.print(indexes)
    db = data.get("database") or {}
    free = "" if db.get("free_bytes") is None else f", {size(db['free_bytes'])} free"
    wal = "" if db.get("wal_bytes") is None else f", WAL {size(db['wal_bytes'])}"
    vacuum = db.get("auto_vacuum") or "-"
    out.print(
        Text(f"\n{data.get('backend')}: {size(db.get('bytes'))}{free}{wal}; auto-vacuum {vacuum}")
    )


# -- the activity feed ---------------------------------------------------------------------------


def feed_type_text(kind: FeedType) -> Text:
    return Text(kind.value, style=FEED_STYLE.get(kind, ""))


def feed_published(e: FeedEvent) -> None:
    """``Published 01J… finding claude: summary`` — one line after ``feed publish``."""
    text = Text(f"Published {e.id} ")
    text.append_text(feed_type_text(e.type))
    text.append(f" {e.agent}: {e.summary}")
    _out().print(text)


def feed_table(events: Sequence[FeedEvent]) -> None:
    if not events:
        notice("No feed events.")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("TIME", no_wrap=True)
    table.add_column("AGENT", no_wrap=True)
    table.add_column("TYPE", no_wrap=True)
    table.add_column("SUMMARY", overflow="fold", ratio=1)
    for e in events:
        table.add_row(clock(e.timestamp), e.agent, feed_type_text(e.type), e.summary)
    _out().print(table)


def clock(ms: int) -> str:
    """Local ``YYYY-MM-DD HH:MM:SS``."""
    return f"{datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone():%Y-%m-%d %H:%M:%S}"


def feed_detail(e: FeedEvent) -> None:
    out = _out()
    out.print(Text(e.summary, style="bold"))
    rows: list[tuple[str, Any]] = [
        ("id", e.id),
        ("agent", e.agent),
        ("type", feed_type_text(e.type)),
        ("time", when(e.timestamp)),
    ]
    out.print(_kv(rows))
    if e.detail:
        out.print(Text("\ndetail:", style="bold"))
        out.print(Text(e.detail))
    if e.metadata is not None:
        out.print(Text("\nmetadata:", style="bold"))
        out.print(Text(_pretty(e.metadata)))


def feed_stats(data: Mapping[str, Any]) -> None:
    out = _out()
    out.print(Text(f"Total feed events: {data.get('total', 0)}", style="bold"))
    for title, key in (("by agent", "byAgent"), ("by type", "byType")):
        counts = data.get(key) or {}
        if counts:
            out.print(Text(f"\n{title}:", style="bold"))
            out.print(_kv(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
    latest = data.get("latestPerAgent") or {}
    if latest:
        out.print(Text("\nlatest per agent:", style="bold"))
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold", ratio=1)
        for agent, raw in sorted(latest.items()):
            e = FeedEvent.from_json(raw)
            table.add_row(agent, ago(e.timestamp), feed_type_text(e.type), e.summary)
        out.print(table)
