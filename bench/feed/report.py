"""Targets, tables and the JSON file of the feed benchmark (as events/report.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common.results import RESULTS
from bench.events.load import EventFigure
from bench.events.report import NOISY, add_delivery_columns, delivery_cells, print_figure_notes
from bench.feed.load import ThroughputRow

PUBLISH_VS_CREATE = 0.90  # publish ≥ create within 10 % (issue 4, "Speed")
SINGLE_P99_MS = 25.0  # publish → SSE receipt with one subscriber


@dataclass
class BackendResult:
    throughput: list[ThroughputRow]
    latency: list[EventFigure]
    server_log: str | None = None  # set when the server logged errors

    def failed(self) -> bool:
        return any(row.figure.error_count for row in self.throughput) or any(
            not f.exactly_once or f.error_count for f in self.latency
        )

    def ratios(self) -> dict[int, float | None]:
        """publish / create per number of clients."""
        return {r.clients: r.ratio for r in self.throughput if r.kind == "publish"}


def throughput_verdict(row: ThroughputRow) -> tuple[str, str, bool | None]:
    if row.figure.error_count:
        return "-", "ERRORS", False
    if row.kind != "publish":
        return "-", "", None
    ok = row.ratio is not None and row.ratio >= PUBLISH_VS_CREATE
    return f"≥ {PUBLISH_VS_CREATE:.2f}", "ok" if ok else "MISS", ok


def latency_verdict(fig: EventFigure) -> tuple[str, str, bool | None]:
    if not fig.exactly_once or fig.error_count:
        return "-", "LOST/DUP" if not fig.exactly_once else "ERRORS", False
    if fig.subscribers != 1:
        return "-", "", None
    ok = fig.p99_ms is not None and fig.p99_ms <= SINGLE_P99_MS
    return f"p99 ≤ {SINGLE_P99_MS:.0f}", "ok" if ok else "MISS p99", ok


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _verdict(text: str, ok: bool | None) -> str:
    style = "green" if ok else ("red" if ok is False else "")
    return f"[{style}]{text}[/]" if style else text


def render(console: Console, backend: str, result: BackendResult, meta: dict[str, Any]) -> None:
    _render_throughput(console, backend, result.throughput, meta)
    _render_latency(console, backend, result.latency, meta)
    ratios = ", ".join(
        f"{clients} client{'s' if clients > 1 else ''} {_num(ratio, 2)}"
        for clients, ratio in result.ratios().items()
    )
    console.print(
        f"{backend}: publish / create, this run: {ratios} (target ≥ {PUBLISH_VS_CREATE:.2f})"
    )


def _render_throughput(
    console: Console, backend: str, rows: list[ThroughputRow], meta: dict[str, Any]
) -> None:
    table = Table(
        title=f"ATS feed: publish vs create, one request per event — {backend}",
        caption=(
            f"{meta['duration']:.0f} s per row, back to back over the lean client (one request at "
            "a time per connection). create = POST /tasks {title}; publish = POST /feed/events "
            "{agent, type: custom, summary}; every answer must be 201. vs create: req/s over the "
            "mean of the two create rows around it (for those: the drift). CPU in cores (machine "
            "has 2): srv = ats serve, cli = this program, db = PostgreSQL, oth = the rest"
        ),
    )
    for column in ("scenario", "req/s", "vs create", "p50 ms", "p99 ms", "srv", "cli", "db",
                   "oth", "target", "verdict"):  # fmt: skip
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for row in rows:
        fig, cores = row.figure, row.cores
        target, verdict, ok = throughput_verdict(row)
        table.add_row(
            row.name,
            _num(fig.rate),
            _num(row.ratio, 2),
            _num(fig.p50_ms, 1),
            _num(fig.p99_ms, 1),
            _num(cores.server, 2),
            _num(fig.client_cpu, 2),
            _num(cores.database, 2),
            _num(cores.other, 2),
            target,
            _verdict(verdict, ok),
        )
    console.print(table)
    for row in rows:
        fig = row.figure
        if fig.error_count:
            console.print(f"[red]{row.name}: {fig.error_count} errors[/]")
            for error in fig.errors:
                console.print(f"  [red]{error}[/]")
    if any(row.cores.other > NOISY for row in rows):
        console.print(f"  [dim]oth > {NOISY} cores: other processes were busy, a noisy figure[/]")


def _render_latency(
    console: Console, backend: str, figures: list[EventFigure], meta: dict[str, Any]
) -> None:
    table = Table(
        title=f"ATS feed: publish → SSE receipt — {backend}",
        caption=(
            f"{meta['duration']:.0f} s of paced publishing per row. p50/p99/max ms: receipt - "
            "metadata.t (time.time() just before POST /feed/events is written), an upper bound "
            "on commit→receipt as it includes the request and the group commit. stamp: the same "
            "from the event's timestamp (server clock, whole ms, taken before the commit). "
            "lost/dup: deliveries missing / duplicated or out of id order, over all subscribers. "
            "resumed: streams the server ended, resumed with Last-Event-ID. CPU in cores: srv = "
            "ats serve, cli = subscriber processes, db = PostgreSQL, oth = the rest but the "
            f"publisher. Target: 1 subscriber p99 ≤ {SINGLE_P99_MS:.0f} ms"
        ),
    )
    add_delivery_columns(table, "target", "verdict")
    for fig in figures:
        target, verdict, ok = latency_verdict(fig)
        table.add_row(*delivery_cells(fig), target, _verdict(verdict, ok))
    console.print(table)
    print_figure_notes(console, figures)
    if any((fig.other_cpu or 0.0) > NOISY for fig in figures):
        console.print(f"  [dim]oth > {NOISY} cores: other processes were busy, a noisy figure[/]")


def write_json(results: dict[str, BackendResult], meta: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"feed-{time.strftime('%Y%m%dT%H%M%S')}.json"
    document: dict[str, Any] = {"meta": meta, "backends": {}}
    for backend, result in results.items():
        document["backends"][backend] = {
            "publish_vs_create": {str(k): v for k, v in result.ratios().items()},
            "throughput": [
                {**row.as_json(), "target": t, "verdict": v}
                for row in result.throughput
                for t, v, _ in [throughput_verdict(row)]
            ],
            "latency": [
                {**fig.as_json(), "target": t, "verdict": v}
                for fig in result.latency
                for t, v, _ in [latency_verdict(fig)]
            ],
            "server_log": result.server_log,
        }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
