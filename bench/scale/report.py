"""The growth table per backend (p50/p90 at each size, largest/smallest p50 against ≤ 2x) and
``bench/results/scale-<timestamp>.json``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common.results import RESULTS
from bench.scale.probes import Timing
from bench.scale.walk import Walk

TARGET = 2.0  # SPEC §9.1: p50 at 1M ≤ 2x p50 at 10k


@dataclass
class Step:
    size: int
    timings: list[Timing]
    bytes: dict[str, int]
    fill_seconds: dict[str, float]
    events: int = 0


@dataclass
class BackendResult:
    steps: list[Step] = field(default_factory=list)
    server_log: str | None = None
    walk: Walk | None = None  # --walk: the cursor walk at the last size

    def failed(self) -> bool:
        walked = self.walk is None or self.walk.ok
        return any(t.errors for s in self.steps for t in s.timings) or not walked


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.1f} MB"


def ratio(first: Timing, last: Timing) -> float | None:
    if first.p50_ms and last.p50_ms:
        return last.p50_ms / first.p50_ms
    return None


def render(console: Console, backend: str, result: BackendResult, meta: dict[str, Any]) -> None:
    steps = result.steps
    if not steps:
        return
    first, last = steps[0], steps[-1]
    table = Table(title=f"{backend}: one request's latency as the tables grow (ms, p50 / p90)")
    table.add_column("request")
    for s in steps:
        table.add_column(f"{s.size:,}", justify="right")
    table.add_column(f"count @{last.size:,}", justify="right")
    table.add_column(f"{last.size // 1000:,}k/{first.size // 1000:,}k", justify="right")
    table.add_column(f"≤ {TARGET:.0f}x")
    for i, t0 in enumerate(first.timings):
        cells = [t0.name]
        for s in steps:
            t = s.timings[i]
            cells.append("ERR" if t.errors else
                         f"{_ms(t.p50_ms)} / {_ms(t.p90_ms)}" if t.samples else "n/a")  # fmt: skip
        tl = last.timings[i]
        count = "" if tl.count is None else f"{tl.count:,}" + (" (capped)" if tl.capped else "")
        r = ratio(t0, tl)
        verdict = "" if r is None or len(steps) < 2 else ("ok" if r <= TARGET else "MISS")
        cells += [count, "-" if r is None else f"{r:.1f}x", verdict]
        table.add_row(*cells)
    for label, key in (
        ("tasks table", "tasks"),
        ("events table", "events"),
        ("database", "database"),
    ):
        table.add_row(label, *[_mb(s.bytes.get(key)) for s in steps], "", "", "", style="dim")
    table.add_row("events (latest id)", *[f"{s.events:,}" for s in steps], "", "", "", style="dim")
    table.add_row(
        "fill s (bulk + claim/complete)",
        *[f"{s.fill_seconds.get('bulk', 0):.0f} + {s.fill_seconds.get('claim_complete', 0):.0f}"
          for s in steps],
        "", "", "", style="dim",
    )  # fmt: skip
    console.print(table)
    for s in steps:
        for t in s.timings:
            for e in t.errors:
                console.print(f"[red]{s.size:,} {t.name}: {e}[/red]")
            if t.note:
                console.print(f"  {s.size:,} {t.name}: {t.note} ({t.samples} samples)")
    if result.walk is not None:
        color = "green" if result.walk.ok else "red"
        console.print(f"[{color}]{result.walk.line()}[/{color}]")
    if result.server_log:
        console.print(f"[red]server log has tracebacks: {result.server_log}[/red]")


def write_json(results: dict[str, BackendResult], meta: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"scale-{time.strftime('%Y%m%dT%H%M%S')}.json"
    data = {"meta": meta, "backends": {b: asdict(r) for b, r in results.items()}}
    path.write_text(json.dumps(data, indent=1))
    return path
