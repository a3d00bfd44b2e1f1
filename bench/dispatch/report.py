"""Targets, tables and the JSON file of the dispatcher benchmark (as http/report.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common.results import RESULTS
from bench.dispatch.load import Cores, Pickup, Throughput
from bench.dispatch.spawn import RawSpawn

RATIO_TARGET = 0.8  # dispatcher tasks/s over the raw asyncio spawn rate, same run
PICKUP_P50_MS = 20.0  # task created (request sent) → child started
NOISY = 0.2  # cores used by other processes during a row that make its figure suspect
# Raw rates before and after further apart than this (over their mean) make the ratio doubtful.
# Quiet, this machine's raw rate moves by up to ~±13 % between 1.5-s samples in one process.
DRIFT = 0.30


@dataclass
class BackendResult:
    raw_before: RawSpawn
    raw_after: RawSpawn
    throughput: list[Throughput]
    pickup: Pickup
    server_log: str | None = None  # set when the server logged errors

    @property
    def raw_rate(self) -> float:
        """Spawns/s the dispatcher is compared with: the mean of before and after."""
        return (self.raw_before.asyncio.rate + self.raw_after.asyncio.rate) / 2

    @property
    def raw_drift(self) -> float:
        """How far apart the raw rates before and after are, over their mean."""
        before, after = self.raw_before.asyncio.rate, self.raw_after.asyncio.rate
        return abs(before - after) / self.raw_rate if self.raw_rate else 0.0

    def ratio(self, row: Throughput) -> float:
        return row.rate / self.raw_rate if self.raw_rate else 0.0

    def pickup_p50(self) -> float | None:
        return self.pickup.stats(self.pickup.from_request)["p50"]

    def failed(self) -> bool:
        return any(row.errors for row in self.throughput) or bool(self.pickup.errors)

    def as_json(self) -> dict[str, Any]:
        p50 = self.pickup_p50()
        return {
            "raw_spawn": {
                "before": self.raw_before.as_json(),
                "after": self.raw_after.as_json(),
                "asyncio_mean": self.raw_rate,
                "drift": self.raw_drift,
            },
            "throughput": [
                {
                    **row.as_json(),
                    "ratio": self.ratio(row),
                    "target": f">= {RATIO_TARGET}",
                    "verdict": _verdict_text(self.ratio(row) >= RATIO_TARGET, row.errors),
                }
                for row in self.throughput
            ],
            "pickup": {
                **self.pickup.as_json(),
                "target": f"p50 <= {PICKUP_P50_MS} ms",
                "verdict": _verdict_text(
                    p50 is not None and p50 <= PICKUP_P50_MS, self.pickup.errors
                ),
            },
        }


def _verdict_text(ok: bool, errors: list[str]) -> str:
    return "ERRORS" if errors else ("ok" if ok else "MISS")


def _styled(text: str) -> str:
    style = {"ok": "green", "MISS": "red", "ERRORS": "red"}.get(text)
    return f"[{style}]{text}[/]" if style else text


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _cores(c: Cores) -> list[str]:
    return [_num(v, 2) for v in (c.dispatcher, c.children, c.server, c.database, c.other)]


def render(console: Console, backend: str, result: BackendResult, meta: dict[str, Any]) -> None:
    plan = meta["plan"]
    table = Table(
        title=f"ATS dispatch: throughput, --concurrency {plan['concurrency']}, command "
        f"`{plan['command']}` — {backend}",
        caption=(
            "raw spawn: this machine spawning the command the way CommandExecutor does "
            f"(asyncio.create_subprocess_exec, 3 pipes, new session, {plan['concurrency']} at a "
            f"time, plain asyncio as in `ats dispatch`), {plan['raw_seconds']:g} s, before and "
            "after the dispatcher rows; subprocess.run: one at a time, for reference. dispatcher: "
            f"{plan['tasks']:,} tasks, rate = tasks / (last 'completed' - first 'claimed' in its "
            "log); burst: bulk-created while it idled (creation overlaps the run), backlog: "
            "created before it started. vs raw: over the mean raw asyncio rate. CPU in cores "
            "(machine has 2): disp = ats dispatch or the spawn program, kids = the commands, "
            f"srv = ats serve, db = PostgreSQL, oth = the rest. Target: ≥ {RATIO_TARGET} x raw"
        ),
    )
    for column in ("row", "per s", "vs raw", "s", "disp", "kids", "srv", "db", "oth", "target",
                   "verdict"):  # fmt: skip
        table.add_column(column, justify="left" if column == "row" else "right", no_wrap=True)
    for when, raw in (("before", result.raw_before), ("after", result.raw_after)):
        r = raw.asyncio
        table.add_row(f"raw spawn {r.method}, {when}", _num(r.rate), "", _num(r.seconds, 1),
                      _num(r.cores, 2), _num(r.child_cores, 2), "-", "-",
                      _num(raw.other_cores, 2), "", "")  # fmt: skip
    table.add_row("raw spawn, mean", f"[bold]{_num(result.raw_rate)}[/]", "1.00", *[""] * 8)
    for when, raw in (("before", result.raw_before), ("after", result.raw_after)):
        r = raw.run
        table.add_row(f"{r.method}, {when}", _num(r.rate), _num(r.rate / result.raw_rate, 2),
                      _num(r.seconds, 1), _num(r.cores, 2), _num(r.child_cores, 2), "-", "-",
                      _num(raw.other_cores, 2), "", "")  # fmt: skip
    for row in result.throughput:
        ratio = result.ratio(row)
        verdict = _verdict_text(ratio >= RATIO_TARGET, row.errors)
        table.add_row(f"dispatcher, {row.name}", f"[bold]{_num(row.rate)}[/]",
                      f"[bold]{_num(ratio, 2)}[/]", _num(row.seconds, 2), *_cores(row.cores),
                      f"≥ {RATIO_TARGET:.2f}", _styled(verdict))  # fmt: skip
    console.print(table)
    for row in result.throughput:
        console.print(
            f"  [dim]{row.name}: {row.completed:,} completed (server: {row.server_completed:,}), "
            f"bulk creation took {row.create_seconds:.2f} s[/]"
        )
        _problems(console, row.name, row.errors, row.notes)
    for raw in (result.raw_before, result.raw_after):
        _problems(console, "raw spawn", [], raw.notes)
    if result.raw_drift > DRIFT:
        console.print(
            f"  [yellow]raw spawn rates before and after differ by {result.raw_drift:.0%} of "
            f"their mean: the ratios are uncertain by about ±{result.raw_drift / 2:.0%}; if oth "
            "was high, the machine was busy: re-run[/]"
        )
    _render_pickup(console, backend, result, plan)
    rows = [result.raw_before.other_cores, result.raw_after.other_cores, result.pickup.cores.other]
    if any(v > NOISY for v in rows + [r.cores.other for r in result.throughput]):
        console.print(f"  [dim]oth > {NOISY} cores: other processes were busy, a noisy figure[/]")


def _render_pickup(
    console: Console, backend: str, result: BackendResult, plan: dict[str, Any]
) -> None:
    p = result.pickup
    table = Table(
        title=f"ATS dispatch: pickup latency, task created → child started — {backend}",
        caption=(
            f"{p.tasks} tasks, one POST /tasks at a time at {p.offered:g}/s (made "
            f"{p.made:.1f}/s) to an idle dispatcher (--concurrency {plan['concurrency']}) whose "
            "command `date +%s.%N` prints its own start time (the task's output). request: "
            "time.time() just before the POST is written; created_at: the server's stamp (whole "
            "ms, before the commit); 'claimed' log: the dispatcher's log line once claim-next "
            "answered (whole ms). CPU over the run: "
            + ", ".join(f"{k} {v:.2f}" for k, v in p.cores.__dict__.items())
            + f". Target: p50 ≤ {PICKUP_P50_MS:.0f} ms from the request"
        ),
    )
    for column in ("from → to", "n", "p50 ms", "p99 ms", "max ms", "target", "verdict"):
        table.add_column(column, justify="left" if column == "from → to" else "right")
    rows = (("request → child started", p.from_request, True),
            ("created_at → child started", p.from_created, False),
            ("request → 'claimed' logged", p.to_claimed, False))  # fmt: skip
    for name, values, judged in rows:
        s = p.stats(values)
        target, verdict = "", ""
        if judged:
            target = f"p50 ≤ {PICKUP_P50_MS:.0f}"
            ok = s["p50"] is not None and s["p50"] <= PICKUP_P50_MS
            verdict = _styled(_verdict_text(ok, p.errors))
        table.add_row(name, str(len(values)), _num(s["p50"], 1), _num(s["p99"], 1),
                      _num(s["max"], 1), target, verdict)  # fmt: skip
    console.print(table)
    _problems(console, "pickup", p.errors, p.notes)


def _problems(console: Console, name: str, errors: list[str], notes: list[str]) -> None:
    for error in errors:
        console.print(f"  [red]{name}: {error}[/]")
    for note in notes:
        console.print(f"  [dim]{name}: {note}[/]")


def write_json(results: dict[str, BackendResult], meta: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"dispatch-{time.strftime('%Y%m%dT%H%M%S')}.json"
    document = {"meta": meta, "backends": {b: r.as_json() for b, r in results.items()}}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
