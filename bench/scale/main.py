"""ATS growth benchmark (SPEC §9.1): per backend, a real ``ats serve`` filled over HTTP in steps
(10k → 100k → 1M tasks, a third completed), and at each step the p50/p90 of every request the
CLI, the SDK and the dashboard make. See bench/README.md, "Scale".

    .venv/bin/python -m bench run scale [--backend sqlite|postgres|both]
        [--sizes 10000,100000,1000000] [--samples 50] [--budget 30] [--settle 0] [--walk]

Exit status: 0 when every request got the answer it should; 1 otherwise. A p50 that grew more
than 2x from the first size to the last shows as MISS in the table, not in the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import uvloop
from rich.console import Console

from bench.common.driver import drive
from bench.common.target import PG_ADMIN, Backend, fresh_database, running_server
from bench.scale.fill import Filled, fill_to, table_bytes
from bench.scale.probes import latest_event, measure_step
from bench.scale.report import BackendResult, Step, render, write_json
from bench.scale.walk import walk_all


async def measure_backend(
    backend: Backend, args: argparse.Namespace, log_dir: Path, console: Console
) -> BackendResult:
    result = BackendResult()
    async with fresh_database(backend, args.pg_admin_url) as url:
        with running_server(url, 1, log_dir) as server:
            filled = Filled()
            for size in args.sizes:
                t0 = time.perf_counter()
                with console.status(f"{backend}: filling to {size:,} tasks…"):
                    await fill_to(server.port, filled, size)
                console.print(f"{backend}: {size:,} tasks in {time.perf_counter() - t0:.0f} s")
                if args.settle:
                    # The server's upkeep catching up with the fill (count fold, VACUUM, ANALYZE
                    # of a table that just grew tenfold) competes with the probes for 2 cores.
                    with console.status(f"{backend}: letting upkeep settle {args.settle:.0f} s…"):
                        await asyncio.sleep(args.settle)
                with console.status(f"{backend}: {size:,} tasks, timing the requests…"):
                    timings = await measure_step(server.port, filled, args.samples, args.budget)
                    sizes = await table_bytes(url)
                    events = await latest_event(server.port)
                result.steps.append(Step(size, timings, sizes, dict(filled.seconds), events))
            if args.walk:
                with console.status(f"{backend}: walking {filled.tasks:,} tasks by cursor…"):
                    result.walk = await walk_all(server.port, set(filled.ids))
        if "Traceback" in server.log.read_text(errors="replace"):
            result.server_log = str(server.log)
    return result


def _sizes(text: str) -> list[int]:
    sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    if not sizes or sizes != sorted(set(sizes)) or sizes[0] < 2000:
        raise argparse.ArgumentTypeError("increasing sizes, each at least 2000")
    return sizes


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[10_000, 100_000, 1_000_000],
        help="tasks at each step, comma-separated (default 10000,100000,1000000)",
    )
    parser.add_argument("--samples", type=int, default=50, help="timed requests per probe")
    parser.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds a probe may spend before it stops (with ≥ 5 samples)",
    )
    parser.add_argument("--pg-admin-url", default=PG_ADMIN, help="creates/drops ats_bench_*")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds to wait after each fill before timing (the server's upkeep catches up)",
    )
    parser.add_argument(
        "--walk",
        action="store_true",
        help="at the last size, follow `next` over every task while others are created",
    )
    args = parser.parse_args(argv)  # fmt: skip
    if not 5 <= args.samples <= 10_000:
        parser.error("--samples: between 5 and 10000")
    return args


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return await drive(
        "scale",
        argv,
        choice=args.backend,
        plan={"sizes": args.sizes, "samples": args.samples, "budget": args.budget},
        duration=args.budget,
        keep_logs=args.keep_logs,
        measure=lambda backend, logs, console: measure_backend(backend, args, logs, console),
        render=render,
        write_json=write_json,
    )


def run(argv: list[str]) -> int:
    """The entry point of ``python -m bench run scale``."""
    return uvloop.run(main(argv))
