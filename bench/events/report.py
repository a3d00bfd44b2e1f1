"""Targets, tables and the JSON file of the event benchmark (same style as bench/http/report.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common.results import RESULTS
from bench.events.cost import CostRow
from bench.events.load import EventFigure

SINGLE_P50_MS, SINGLE_P99_MS = 5.0, 25.0
MANY_RATE, MANY_P99_MS = 30_000.0, 100.0  # deliveries/s at 500 subscribers
KEPT_UP = 0.97  # share of the offered rate a run must reach to count as keeping up
CREATE_COST = 0.10  # a subscriber may cost creation at most this share
NOISY = 0.2  # cores used by other processes during a run that make its figures suspect


@dataclass
class BackendResult:
    delivery: list[EventFigure]
    create_cost: list[CostRow]
    server_log: str | None = None  # set when the server logged errors

    def failed(self) -> bool:
        return any(not f.exactly_once or f.error_count for f in self.delivery) or any(
            row.figure.error_count for row in self.create_cost
        )


def delivery_verdict(fig: EventFigure) -> tuple[str, str, bool | None]:
    """(target text, verdict, ok?) for one paced run."""
    if not fig.exactly_once or fig.error_count:
        return "-", "LOST/DUP" if not fig.exactly_once else "ERRORS", False
    missed = []
    if fig.subscribers == 1:
        target = f"p50 ≤ {SINGLE_P50_MS:.0f}, p99 ≤ {SINGLE_P99_MS:.0f}"
        if (fig.p50_ms or 0.0) > SINGLE_P50_MS:
            missed.append("p50")
        if (fig.p99_ms or 0.0) > SINGLE_P99_MS:
            missed.append("p99")
    else:
        target = f"keeps up, p99 ≤ {MANY_P99_MS:.0f}"
        if not kept_up(fig):
            missed.append("rate")
        if (fig.p99_ms or 0.0) > MANY_P99_MS:
            missed.append("p99")
    return target, "MISS " + "+".join(missed) if missed else "ok", not missed


def kept_up(fig: EventFigure) -> bool:
    """The paced rate was created and delivered (a little slack for the window's edges)."""
    offered = fig.offered * fig.subscribers
    return fig.create_rate >= KEPT_UP * fig.offered and fig.delivery_rate >= KEPT_UP * offered


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _verdict(text: str, ok: bool | None) -> str:
    style = "green" if ok else ("red" if ok is False else "")
    return f"[{style}]{text}[/]" if style else text


def render(console: Console, backend: str, result: BackendResult, meta: dict[str, Any]) -> None:
    table = Table(
        title=f"ATS events: commit → WebSocket receipt — {backend}",
        caption=(
            f"{meta['duration']:.0f} s of paced creation per row. p50/p99/max ms: receipt - "
            "payload.t (time.time() just before POST /tasks is written), an upper bound on "
            "commit→receipt as it includes the request. stamp: the same from the event's "
            "created_at (server clock, whole ms, just before the commit). lost/dup: deliveries "
            "missing / duplicated or out of id order, over all subscribers. resumed: server "
            "closes (1013 or a bare EOF) after which the subscriber resumed with since. CPU in "
            "cores (machine has 2): srv = ats serve, cli = subscriber processes, db = PostgreSQL, "
            "oth = the rest of the machine but the creator. Targets: 1 subscriber "
            f"p50 ≤ {SINGLE_P50_MS:.0f}, p99 ≤ {SINGLE_P99_MS:.0f} ms; many: p99 ≤ "
            f"{MANY_P99_MS:.0f} ms while keeping up with the offered rate (≥ {KEPT_UP:.0%}), "
            f"at ≥ {MANY_RATE:,.0f} deliveries/s"
        ),
    )
    add_delivery_columns(table, "verdict")
    for fig in result.delivery:
        _, verdict, ok = delivery_verdict(fig)
        table.add_row(*delivery_cells(fig), _verdict(verdict, ok))
    console.print(table)
    print_figure_notes(console, result.delivery)
    if any((fig.other_cpu or 0.0) > NOISY for fig in result.delivery):
        console.print(f"  [dim]oth > {NOISY} cores: other processes were busy, a noisy figure[/]")
    _many_summary(console, result.delivery)
    _render_cost(console, backend, result)


def _many_summary(console: Console, figures: list[EventFigure]) -> None:
    many = [f for f in figures if f.subscribers > 1]
    if not many:
        return
    good = [f for f in many if delivery_verdict(f)[2]]
    best = max((f.offered * f.subscribers for f in good), default=0.0)
    ok = best >= MANY_RATE
    console.print(
        f"{many[0].subscribers} subscribers: highest offered rate kept up with p99 ≤ "
        f"{MANY_P99_MS:.0f} ms and nothing lost: {best:,.0f} deliveries/s "
        f"(target ≥ {MANY_RATE:,.0f}/s): " + _verdict("ok" if ok else "MISS", ok)
    )


def _render_cost(console: Console, backend: str, result: BackendResult) -> None:
    table = Table(
        title=f"ATS events: what subscribers cost task creation — {backend}",
        caption=(
            "POST /tasks from 64 connections as fast as they go, in this order. vs base: "
            "creates/s over the mean of the runs just before and after without a subscriber "
            "(for those: over the mean of all three, i.e. the drift). CPU in cores: srv = ats "
            "serve, load = the 64 connections, sub = the subscriber process, db = PostgreSQL, "
            "oth = the rest"
        ),
    )
    for column in ("scenario", "creates/s", "vs base", "p50 ms", "p99 ms", "srv", "load", "sub",
                   "db", "oth", "target", "verdict"):  # fmt: skip
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for row in result.create_cost:
        fig, cores, ratio = row.figure, row.cores, row.ratio
        target, verdict, ok = "-", "", None
        if fig.error_count:
            verdict, ok = "ERRORS", False
        elif not row.baseline:
            target = f"≥ {1 - CREATE_COST:.2f}"
            ok = ratio is not None and ratio >= 1 - CREATE_COST
            verdict = "ok" if ok else "MISS"
        table.add_row(
            row.name,
            _num(fig.rate),
            _num(ratio, 2),
            _num(fig.p50_ms, 1),
            _num(fig.p99_ms, 1),
            _num(cores.server, 2),
            _num(fig.client_cpu, 2),
            _num(cores.subscribers, 2),
            _num(cores.database, 2),
            _num(cores.other, 2),
            target,
            _verdict(verdict, ok),
        )
    console.print(table)
    for row in result.create_cost:
        fig = row.figure
        if fig.error_count:
            console.print(f"[red]{row.name}: {fig.error_count} errors[/]")
            for error in fig.errors:
                console.print(f"  [red]{error}[/]")
        for note in fig.notes:
            if not note.endswith("lean client"):  # "64 connections, lean client": the caption
                console.print(f"  [dim]{row.name}: {note}[/]")
    if any(row.cores.other > NOISY for row in result.create_cost):
        console.print(f"  [dim]oth > {NOISY} cores: other processes were busy, a noisy figure[/]")


def write_json(results: dict[str, BackendResult], meta: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"events-{time.strftime('%Y%m%dT%H%M%S')}.json"
    document: dict[str, Any] = {"meta": meta, "backends": {}}
    for backend, result in results.items():
        document["backends"][backend] = {
            "delivery": [
                {**fig.as_json(), "target": t, "verdict": v}
                for fig in result.delivery
                for t, v, _ in [delivery_verdict(fig)]
            ],
            "create_cost": [row.as_json() for row in result.create_cost],
        }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


DELIVERY_COLUMNS = (
    "scenario", "ev/s", "made/s", "deliv/s", "p50", "p99", "max", "stamp p50/p99", "lost", "dup",
    "resumed", "srv", "cli", "db", "oth",
)  # fmt: skip


def add_delivery_columns(table: Table, *more: str) -> None:
    for column in (*DELIVERY_COLUMNS, *more):
        left = column == "scenario"
        table.add_column(column, justify="left" if left else "right", no_wrap=True)


def delivery_cells(fig: EventFigure) -> list[str]:
    """A latency row's cells, in DELIVERY_COLUMNS order (shared with the feed benchmark)."""
    return [
        fig.name,
        _num(fig.offered),
        _num(fig.create_rate),
        _num(fig.delivery_rate),
        _num(fig.p50_ms, 1),
        _num(fig.p99_ms, 1),
        _num(fig.max_ms, 1),
        f"{_num(fig.stamp_p50_ms, 1)} / {_num(fig.stamp_p99_ms, 1)}",
        f"{fig.missing + fig.wrong:,}",
        f"{fig.extra + fig.order_violations:,}",
        f"{fig.resumes:,}",
        _num(fig.server_cpu, 2),
        _num(fig.client_cpu, 2),
        _num(fig.db_cpu, 2),
        _num(fig.other_cpu, 2),
    ]


def print_figure_notes(console: Console, figures: list[EventFigure]) -> None:
    for fig in figures:
        label = f"{fig.name} @ {fig.offered:,.0f}/s"
        if fig.error_count:
            console.print(f"[red]{label}: {fig.error_count} errors[/]")
            for error in fig.errors:
                console.print(f"  [red]{error}[/]")
        for note in fig.notes:
            console.print(f"  [dim]{label}: {note}[/]")
