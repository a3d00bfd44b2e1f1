"""ATS event benchmark: commit → WebSocket latency with 1 and with many subscribers, delivery
throughput, and what subscribers cost task creation, against a real ``ats serve`` per backend.
See bench/README.md, "Events".

    .venv/bin/python -m bench run events [--backend sqlite|postgres|both] [--duration 10]
        [--subscribers 500] [--rates 20,60,100,200] [--single-rate 200] [--client-procs 2]

Exit status: 0 when every subscriber got every event exactly once and in id order, and every
request got the answer it should; 1 otherwise. Missed targets show in the tables, not here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvloop
from rich.console import Console

from bench.common.driver import drive
from bench.common.target import PG_ADMIN, Backend, fresh_database, running_server
from bench.events.cost import CreateCost
from bench.events.load import EventBench, EventPlan
from bench.events.report import BackendResult, render, write_json


async def measure_backend(
    backend: Backend, plan: EventPlan, log_dir: Path, pg_admin: str, console: Console
) -> BackendResult:
    async with fresh_database(backend, pg_admin) as url:
        with running_server(url, 1, log_dir) as server:
            bench = EventBench(server.port, plan, server.cpu_seconds, log_dir)
            with console.status(f"{backend}: one subscriber at {plan.single_rate:,.0f}/s…"):
                delivery = [await bench.single()]
            with console.status(f"{backend}: {plan.subscribers} subscribers, rates {plan.rates}…"):
                delivery += await bench.ladder()
            with console.status(f"{backend}: create throughput with and without subscribers…"):
                cost = await CreateCost(
                    server.port, plan.duration, server.cpu_seconds, log_dir
                ).run()
        log = server.log.read_text(errors="replace")
    result = BackendResult(delivery, cost)
    if "Traceback" in log or "ERROR:" in log:
        result.server_log = str(server.log)
        delivery[0].notes.append(f"the server log has errors: {server.log} (kept)")
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per row")
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--rates", default="20,60,100,200", help="events/s, many subscribers")
    parser.add_argument("--single-rate", type=float, default=200.0, help="events/s, 1 subscriber")
    parser.add_argument("--client-procs", type=int, default=2, help="subscriber processes")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help="creates/drops ats_bench_*")
    parser.add_argument("--keep-logs", action="store_true", help="keep server/subscriber logs")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 600:
        parser.error("--duration: between 0 and 600 seconds")
    if args.client_procs < 1:
        parser.error("--client-procs: at least 1")
    if not 1 <= args.subscribers <= 5000:
        parser.error("--subscribers: between 1 and 5000")
    try:
        args.rates = tuple(float(r) for r in args.rates.split(","))
    except ValueError:
        parser.error("--rates: comma-separated events per second, e.g. 20,60,100")
    if not all(0 < r <= 5000 for r in (*args.rates, args.single_rate)):
        parser.error("rates: between 0 and 5000 events/s")
    return args


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    plan = EventPlan(
        duration=args.duration,
        single_rate=args.single_rate,
        subscribers=args.subscribers,
        rates=args.rates,
        processes=args.client_procs,
    )
    return await drive(
        "events",
        argv,
        choice=args.backend,
        plan={**plan.__dict__, "rates": list(plan.rates)},
        duration=plan.duration,
        keep_logs=args.keep_logs,
        measure=lambda backend, logs, console: measure_backend(
            backend, plan, logs, args.pg_admin_url, console
        ),
        render=render,
        write_json=write_json,
    )


def run(argv: list[str]) -> int:
    """The entry point of ``python -m bench run events``."""
    return uvloop.run(main(argv))
