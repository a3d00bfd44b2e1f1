"""ATS throughput benchmark: a real ``ats serve`` per backend, measured over HTTP, next to the
same operations done in-process through the store (the ceiling). See bench/README.md.

    .venv/bin/python -m bench run http [--backend sqlite|postgres] [--duration 10]

Exit status: 0 when every request got the answer it should and every claimed task was completed
exactly once (missed targets are shown in the table, not in the exit status); 1 otherwise.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop
from rich.console import Console

from ats.store import open_store
from bench.common.http_load import HttpBench
from bench.common.measure import Figure, Plan
from bench.common.results import source_version
from bench.common.target import PG_ADMIN, Backend, fresh_database, running_server
from bench.common.wire import ClientKind
from bench.http.ceiling import StoreBench
from bench.http.report import Row, render, render_ratio, write_json

CHANNEL = "bench-channel"  # the last claim row filters on it (SPEC: `channel` in /tasks/claim)


async def over_http(
    backend: Backend, plan: Plan, client: ClientKind, workers: int, log_dir: Path, pg_admin: str
) -> list[Figure]:
    async with fresh_database(backend, pg_admin) as url:
        with running_server(url, workers, log_dir) as server:
            bench = HttpBench(server.port, plan, client, server.cpu_seconds)
            figures = [
                await bench.create(),
                await bench.bulk(),
                await bench.claim_complete(1),
                await bench.claim_complete(50, batch=True),
                await bench.claim_complete(50),
                await bench.claim_complete(1, CHANNEL),
            ]
        log = server.log.read_text(errors="replace")
        if "Traceback" in log:
            figures[0].notes.append(f"server log has tracebacks: {server.log}")
    return figures


async def in_process(backend: Backend, plan: Plan, pg_admin: str) -> list[Figure]:
    async with fresh_database(backend, pg_admin) as url:
        store = await open_store(url)
        try:
            await store.upkeep.migrate()
            bench = StoreBench(store, plan)
            return [
                await bench.create(),
                await bench.bulk(),
                await bench.claim_complete(1),
                await bench.claim_complete(50, batch=True),
                await bench.claim_complete(50),
                await bench.claim_complete(1, CHANNEL),
            ]
        finally:
            await store.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--client", choices=("lean", "httpx"), default="lean")
    parser.add_argument("--server-workers", type=int, default=1, help="PostgreSQL only")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the in-process runs")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help="creates/drops ats_bench_*")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 600:
        parser.error("--duration: between 0 and 600 seconds")
    return args


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    backends: list[Backend] = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    plan = Plan(duration=args.duration)
    # Rich falls back to 80 columns when piped; the table needs more.
    console = Console(width=None if sys.stdout.isatty() else 150)
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration": plan.duration,
        "client": args.client,
        "server_workers": args.server_workers,
        "plan": plan.__dict__,
        "python": platform.python_version(),
        "command": " ".join(["python -m bench run http", *argv]),
        **source_version(),
    }
    console.print(f"measuring {meta['ats_source']} at {meta['commit']} (dirty: {meta['dirty']})")
    results: dict[str, list[Row]] = {}
    with tempfile.TemporaryDirectory(prefix="ats_bench_logs_") as logs:
        for backend in backends:
            workers = args.server_workers if backend == "postgres" else 1
            with console.status(f"{backend}: over HTTP…"):
                http = await over_http(
                    backend, plan, args.client, workers, Path(logs), args.pg_admin_url
                )
            ceiling: list[Figure | None] = [None] * len(http)
            if not args.no_ceiling:
                with console.status(f"{backend}: in-process ceiling…"):
                    ceiling = list(await in_process(backend, plan, args.pg_admin_url))
            results[backend] = [Row(h, c) for h, c in zip(http, ceiling, strict=True)]
            render(console, backend, results[backend], {**meta, "server_workers": workers})
    render_ratio(console, results)
    path = write_json(results, meta)
    console.print(f"results: {path}")
    failed = any(row.http.error_count or (row.ceiling and row.ceiling.error_count)
                 for rows in results.values() for row in rows)  # fmt: skip
    return 1 if failed else 0


def run(argv: list[str]) -> int:
    """The entry point of ``python -m bench run http``."""
    return uvloop.run(main(argv))
