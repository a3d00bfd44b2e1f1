"""Targets, the printed tables and the JSON file of a run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common.measure import Figure
from bench.common.results import RESULTS

SQLITE_FACTOR = 0.5  # SQLite is held to half the PostgreSQL targets
P99_TARGET_MS = 50.0  # create, one per request, 64 connections


@dataclass(frozen=True)
class Target:
    rate: float
    p99_ms: float | None = None


PG_TARGETS = {
    "create": Target(2_000, P99_TARGET_MS),
    "bulk": Target(20_000),
    "claim+complete limit 1": Target(1_000),
    "claim+complete limit 50": Target(5_000),
}


def target_for(backend: str, scenario: str) -> Target | None:
    pg = PG_TARGETS.get(scenario)
    if pg is None or backend == "postgres":
        return pg
    return Target(pg.rate * SQLITE_FACTOR, pg.p99_ms)


@dataclass
class Row:
    http: Figure
    ceiling: Figure | None

    def verdict(self, backend: str) -> tuple[bool | None, str]:
        target = target_for(backend, self.http.name)
        if self.http.error_count:
            return False, "ERRORS"
        if target is None:
            return None, ""
        missed = []
        if self.http.rate < target.rate:
            missed.append("rate")
        if target.p99_ms is not None and (self.http.p99_ms or 0.0) > target.p99_ms:
            missed.append("p99")
        return not missed, "ok" if not missed else "MISS " + "+".join(missed)


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(console: Console, backend: str, rows: list[Row], meta: dict[str, Any]) -> None:
    table = Table(
        title=f"ATS over HTTP vs the store ceiling — {backend}",
        caption=(
            f"{meta['duration']:.0f} s per scenario, {meta['client']} client, "
            f"server workers {meta['server_workers']}; CPU in cores (machine has 2)"
        ),
    )
    for column in ("scenario", "HTTP", "unit", "p50 ms", "p99 ms", "srv CPU", "cli CPU",
                   "store ceiling", "HTTP/ceil", "target", "verdict"):  # fmt: skip
        left = column in ("scenario", "unit")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for row in rows:
        fig, ceil = row.http, row.ceiling
        target = target_for(backend, fig.name)
        target_text = "-"
        if target is not None:
            target_text = f"≥ {target.rate:,.0f}"
            if target.p99_ms is not None:
                target_text += f", p99 ≤ {target.p99_ms:.0f}"
        ok, verdict = row.verdict(backend)
        style = "green" if ok else ("red" if ok is False else "")
        table.add_row(
            fig.name,
            _num(fig.rate),
            fig.unit,
            _num(fig.p50_ms, 1),
            _num(fig.p99_ms, 1),
            _num(fig.server_cpu, 2),
            _num(fig.client_cpu, 2),
            _num(ceil.rate if ceil else None),
            f"{fig.rate / ceil.rate:.2f}" if ceil and ceil.rate else "-",
            target_text,
            f"[{style}]{verdict}[/]" if style else verdict,
        )
    console.print(table)
    for row in rows:
        for side, side_fig in (("HTTP", row.http), ("store", row.ceiling)):
            if side_fig is None:
                continue
            if side_fig.error_count:
                console.print(f"[red]{side} {side_fig.name}: {side_fig.error_count} errors[/]")
                for error in side_fig.errors:
                    console.print(f"  [red]{error}[/]")
            for note in side_fig.notes:
                console.print(f"  [dim]{side} {side_fig.name}: {note}[/]")


def render_ratio(console: Console, results: dict[str, list[Row]]) -> None:
    """SQLite over PostgreSQL, measured in this run (the SQLite target is ≥ 0.5)."""
    if "sqlite" not in results or "postgres" not in results:
        return
    pg = {r.http.name: r.http.rate for r in results["postgres"]}
    parts = [
        f"{r.http.name} {r.http.rate / pg[r.http.name]:.2f}"
        for r in results["sqlite"]
        if pg.get(r.http.name)
    ]
    console.print("SQLite / PostgreSQL over HTTP, this run: " + "; ".join(parts))


def write_json(results: dict[str, list[Row]], meta: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
    document = {
        "meta": meta,
        "backends": {
            backend: [
                {
                    "scenario": row.http.name,
                    "target": (t := target_for(backend, row.http.name)) and t.__dict__,
                    "verdict": row.verdict(backend)[1],
                    "http": row.http.as_json(),
                    "store": row.ceiling.as_json() if row.ceiling else None,
                }
                for row in rows
            ]
            for backend, rows in results.items()
        },
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
