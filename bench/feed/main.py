"""ATS feed benchmark: publish throughput next to task creation, and publish → SSE receipt latency
with 1 and with many subscribers, against a real ``ats serve`` per backend. See bench/README.md,
"Feed".

    .venv/bin/python -m bench run feed [--backend sqlite|postgres|both] [--duration 10]
        [--subscribers 200] [--rate 100] [--clients 8] [--client-procs 2]

Exit status: 0 when every request got the answer it should and every subscriber got every event
exactly once and in id order; 1 otherwise. Missed targets show in the tables, not here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvloop
from rich.console import Console

from bench.common.driver import drive
from bench.common.measure import Plan
from bench.common.target import PG_ADMIN, Backend, fresh_database, running_server
from bench.feed.load import FeedPlan, Latency, Throughput
from bench.feed.report import BackendResult, render, write_json


async def measure_backend(
    backend: Backend, plan: FeedPlan, log_dir: Path, pg_admin: str, console: Console
) -> BackendResult:
    async with fresh_database(backend, pg_admin) as url:
        with running_server(url, 1, log_dir) as server:
            http = Throughput(server.port, Plan(duration=plan.duration), "lean", server.cpu_seconds)
            warm_up = await http.warm_up()
            throughput = []
            for clients in plan.clients:
                with console.status(f"{backend}: create / publish / create, {clients} clients…"):
                    throughput += await http.rows(clients)
            latency = Latency(server.port, plan, server.cpu_seconds, log_dir)
            with console.status(f"{backend}: 1 subscriber at {plan.rate:,.0f} events/s…"):
                figures = [await latency.single()]
            with console.status(f"{backend}: {plan.subscribers} subscribers…"):
                figures.append(await latency.many())
        log = server.log.read_text(errors="replace")
    first = throughput[0].figure
    first.errors += [f"warm-up: {e}" for e in warm_up.errors]
    first.error_count += warm_up.error_count
    result = BackendResult(throughput, figures)
    if "Traceback" in log or "ERROR:" in log:
        result.server_log = str(server.log)
        figures[0].notes.append(f"the server log has errors: {server.log} (kept)")
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per row")
    parser.add_argument("--subscribers", type=int, default=200, help="the many-subscriber row")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s, paced publisher")
    parser.add_argument("--clients", type=int, default=8, help="connections, concurrent rows")
    parser.add_argument("--client-procs", type=int, default=2, help="subscriber processes")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help="creates/drops ats_bench_*")
    parser.add_argument("--keep-logs", action="store_true", help="keep server/subscriber logs")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 600:
        parser.error("--duration: between 0 and 600 seconds")
    if not 1 <= args.subscribers <= 5000:
        parser.error("--subscribers: between 1 and 5000")
    if not 0 < args.rate <= 5000:
        parser.error("--rate: between 0 and 5000 events/s")
    if not 2 <= args.clients <= 256:
        parser.error("--clients: between 2 and 256")
    if args.client_procs < 1:
        parser.error("--client-procs: at least 1")
    return args


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    plan = FeedPlan(
        duration=args.duration,
        clients=(1, args.clients),
        rate=args.rate,
        subscribers=args.subscribers,
        processes=args.client_procs,
    )
    return await drive(
        "feed",
        argv,
        choice=args.backend,
        plan={**plan.__dict__, "clients": list(plan.clients)},
        duration=plan.duration,
        keep_logs=args.keep_logs,
        measure=lambda backend, logs, console: measure_backend(
            backend, plan, logs, args.pg_admin_url, console
        ),
        render=render,
        write_json=write_json,
    )


def run(argv: list[str]) -> int:
    """The entry point of ``python -m bench run feed``."""
    return uvloop.run(main(argv))
