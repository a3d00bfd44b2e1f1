"""ATS dispatcher benchmark: throughput of a real ``ats dispatch --concurrency 8`` on a no-op
command next to this machine's raw spawn rate of that command, measured in the same run, and
pickup latency (task created → child started), against a real ``ats serve`` per backend.

    .venv/bin/python -m bench run dispatch [--backend sqlite|postgres|both] [--tasks 3000]
        [--concurrency 8] [--pickup-tasks 200] [--pickup-rate 20] [--raw-seconds 3]

Per backend, on a fresh database (SQLite file, or ``ats_bench_<random>`` on the PostgreSQL of
``--pg-admin-url``) with one ``ats serve``:

1. Raw spawn rate, before: ``bench.dispatch.spawn`` in a fresh interpreter spawns ``true`` exactly
   as CommandExecutor does (plain asyncio, ``create_subprocess_exec`` with three pipes and a new
   session, the prompt on stdin, 8 at a time) for ``--raw-seconds``, then with a plain
   ``subprocess.run`` loop for reference.
2. Throughput, burst: ``ats dispatch -c bench --command true --concurrency 8`` is started and
   idles until its log says "listening for events"; then ``--tasks`` tasks are bulk-created
   (``POST /tasks/bulk``, 1,000 per request). Rate = tasks / (last "completed" - first "claimed"
   in its JSON log). The creation overlaps the first part of the run.
3. Throughput, backlog: ``--tasks`` tasks in another channel first, then a fresh dispatcher.
4. Raw spawn rate, after. Ratio = dispatcher tasks/s ÷ the mean of before and after (target
   ≥ 0.8).
5. Pickup latency: a dispatcher whose command is ``date +%s.%N`` (the child prints its own start
   time, which becomes the task's output) gets ``--pickup-tasks`` tasks, one POST at a time at
   ``--pickup-rate``/s, so it is idle whenever a task arrives; latency = child start - the time
   just before the POST (target p50 ≤ 20 ms), and minus the server's created_at.

Every row also says who used the CPU (dispatcher, its children, server, PostgreSQL, the rest of
the machine): on this shared 2-core box, a row with "oth" above 0.2 cores is suspect, and so is a
raw rate that moved a lot between before and after. Compare ratios taken in one run.

Exit status: 0 when every task was claimed and completed exactly once, nothing failed or was
retried, and every pickup task reported its start time; 1 otherwise; 2 when PostgreSQL is asked
for and cannot be reached. Missed targets show in the tables, not here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import asyncpg
import uvloop
from rich.console import Console

from bench.common.driver import backends, drive
from bench.common.target import PG_ADMIN, Backend, fresh_database, running_server
from bench.dispatch.load import DispatchBench, DispatchPlan
from bench.dispatch.report import BackendResult, render, write_json
from bench.dispatch.spawn import measure_raw


async def measure_backend(
    backend: Backend, plan: DispatchPlan, log_dir: Path, pg_admin: str, console: Console
) -> BackendResult:
    raw_seconds, width, program = plan.raw_seconds, plan.concurrency, plan.command
    async with fresh_database(backend, pg_admin) as url:
        with running_server(url, 1, log_dir) as server:
            bench = DispatchBench(server.port, plan, server.cpu_seconds, log_dir / backend)
            with console.status(f"{backend}: raw spawn rate of {program} (before)…"):
                before = await measure_raw(raw_seconds, width, program)
            with console.status(f"{backend}: dispatcher throughput, {plan.tasks:,} tasks x2…"):
                throughput = await bench.throughput()
            with console.status(f"{backend}: raw spawn rate of {program} (after)…"):
                after = await measure_raw(raw_seconds, width, program)
            with console.status(f"{backend}: pickup latency, {plan.pickup_tasks} tasks…"):
                pickup = await bench.pickup()
        log = server.log.read_text(errors="replace")
    result = BackendResult(before, after, throughput, pickup)
    if "Traceback" in log or "ERROR:" in log:
        result.server_log = str(server.log)
        pickup.notes.append(f"the server log has errors: {server.log} (kept)")
    if result.failed():
        # The driver keeps the log directory when a result names a log.
        result.server_log = result.server_log or str(log_dir / backend)
        pickup.notes.append(f"dispatcher logs: {log_dir / backend} (kept)")
    return result


async def check_postgres(pg_admin: str) -> str | None:
    """None when PostgreSQL answers, else why not (one line)."""
    try:
        conn = await asyncpg.connect(pg_admin, timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--tasks", type=int, default=3000, help="per throughput row")
    parser.add_argument("--concurrency", type=int, default=8, help="ats dispatch --concurrency")
    parser.add_argument("--pickup-tasks", type=int, default=200)
    parser.add_argument("--pickup-rate", type=float, default=20.0, help="tasks/s, one at a time")
    parser.add_argument("--raw-seconds", type=float, default=3.0, help="per raw spawn loop")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help="creates/drops ats_bench_*")
    parser.add_argument("--keep-logs", action="store_true", help="keep server/dispatcher logs")
    args = parser.parse_args(argv)
    if not 100 <= args.tasks <= 100_000:
        parser.error("--tasks: between 100 and 100,000")
    if not 1 <= args.concurrency <= 1000:
        parser.error("--concurrency: between 1 and 1000")
    if not 10 <= args.pickup_tasks <= 10_000:
        parser.error("--pickup-tasks: between 10 and 10,000")
    if not 0 < args.pickup_rate <= 100:
        parser.error("--pickup-rate: between 0 and 100 tasks/s (the dispatcher must stay idle)")
    if not 0.5 <= args.raw_seconds <= 60:
        parser.error("--raw-seconds: between 0.5 and 60")
    return args


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if "postgres" in backends(args.backend):
        why = await check_postgres(args.pg_admin_url)
        if why is not None:
            print(f"bench dispatch: PostgreSQL is not reachable at {args.pg_admin_url} "
                  f"({why}); start it, pass --pg-admin-url, or use --backend sqlite",
                  file=sys.stderr)  # fmt: skip
            return 2
    plan = DispatchPlan(
        tasks=args.tasks,
        concurrency=args.concurrency,
        pickup_tasks=args.pickup_tasks,
        pickup_rate=args.pickup_rate,
        raw_seconds=args.raw_seconds,
    )
    return await drive(
        "dispatch",
        argv,
        choice=args.backend,
        plan=plan.__dict__,
        duration=plan.raw_seconds,
        keep_logs=args.keep_logs,
        measure=lambda backend, logs, console: measure_backend(
            backend, plan, logs, args.pg_admin_url, console
        ),
        render=render,
        write_json=write_json,
    )


def run(argv: list[str]) -> int:
    """The entry point of ``python -m bench run dispatch``."""
    try:
        return uvloop.run(main(argv))
    except KeyboardInterrupt:
        # The context managers have stopped the dispatcher and the server by now.
        print("python -m bench run dispatch: interrupted", file=sys.stderr)
        return 130
