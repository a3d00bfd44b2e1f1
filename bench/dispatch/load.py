"""The dispatcher scenarios against a running ``ats serve``: throughput on a burst and on a
backlog of no-op tasks, and pickup latency (task created → child started) at a paced rate."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ats.models import parse_iso
from bench.common.cpu import machine_cpu, own_cpu, postgres_cpu
from bench.common.measure import percentile
from bench.common.target import HOST
from bench.common.wire import Connection, connect
from bench.dispatch.proc import Dispatcher, log_time, running_dispatcher

BULK = 1000  # tasks per POST /tasks/bulk (the server's maximum)
# The child prints its own start time: CLOCK_REALTIME in ns, taken by the program right after
# exec. It comes back as the task's output. (A file's mtime would not do: the kernel stamps files
# from its coarse clock, one timer tick behind; here up to ~6 ms *before* touch even started.)
STAMP_COMMAND = "date +%s.%N"
STALL = 30.0  # seconds without a new completion after which the dispatcher counts as stuck


@dataclass(frozen=True)
class DispatchPlan:
    tasks: int = 3000  # per throughput row
    concurrency: int = 8
    command: str = "true"
    pickup_tasks: int = 200
    pickup_rate: float = 20.0  # tasks/s, one at a time
    pickup_warmup: int = 5
    raw_seconds: float = 3.0  # per raw spawn loop


@dataclass
class Cores:
    """Cores used during a row (the machine has 2)."""

    dispatcher: float = 0.0  # the ats dispatch process, all its threads
    children: float = 0.0  # the commands it ran, as reaped
    server: float = 0.0
    database: float = 0.0  # every PostgreSQL process
    other: float = 0.0  # the rest of the machine but this program: other people's work


class CpuWindow:
    def __init__(self, dispatcher: Dispatcher | None, server_cpu: Callable[[], float]) -> None:
        self.server_cpu = server_cpu
        self.start(dispatcher)

    def start(self, dispatcher: Dispatcher | None) -> None:
        self.dispatcher = dispatcher
        self.t0, self.srv0, self.db0 = time.perf_counter(), self.server_cpu(), postgres_cpu()
        self.machine0, self.own0 = machine_cpu(), own_cpu()
        self.disp0 = dispatcher.cpu() if dispatcher else (0.0, 0.0)

    def cores(self) -> Cores:
        elapsed = time.perf_counter() - self.t0
        disp = self.dispatcher.cpu() if self.dispatcher else (0.0, 0.0)
        own, kids = disp[0] - self.disp0[0], disp[1] - self.disp0[1]
        srv, db = self.server_cpu() - self.srv0, postgres_cpu() - self.db0
        rest = machine_cpu() - self.machine0 - own - kids - srv - db - (own_cpu() - self.own0)
        return Cores(own / elapsed, kids / elapsed, srv / elapsed, db / elapsed,
                     max(0.0, rest) / elapsed)  # fmt: skip


@dataclass
class Throughput:
    name: str
    tasks: int
    rate: float = 0.0  # tasks / (last completion - first claim), dispatcher log timestamps
    seconds: float = 0.0
    create_seconds: float = 0.0  # the bulk creation (overlaps the run in the burst row)
    completed: int = 0  # distinct tasks the dispatcher logged as completed
    server_completed: int = 0  # the server's count of completed tasks in the channel
    cores: Cores = field(default_factory=Cores)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "cores": self.cores.__dict__}


@dataclass
class Pickup:
    tasks: int
    offered: float
    made: float = 0.0  # creations/s achieved
    from_request: list[float] = field(default_factory=list)  # ms: child start - request sent
    from_created: list[float] = field(default_factory=list)  # ms: child start - created_at
    to_claimed: list[float] = field(default_factory=list)  # ms: "claimed" log - request sent
    cores: Cores = field(default_factory=Cores)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def stats(self, values: list[float]) -> dict[str, float | None]:
        ordered = sorted(values)
        return {"p50": percentile(ordered, 0.50), "p99": percentile(ordered, 0.99),
                "max": ordered[-1] if ordered else None}  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks, "offered": self.offered, "made": self.made,
            "from_request_ms": self.stats(self.from_request),
            "from_created_at_ms": self.stats(self.from_created),
            "request_to_claimed_log_ms": self.stats(self.to_claimed),
            "from_request_ms_values": [round(v, 3) for v in self.from_request],
            "cores": self.cores.__dict__, "errors": self.errors, "notes": self.notes,
        }  # fmt: skip


class DispatchBench:
    def __init__(
        self, port: int, plan: DispatchPlan, server_cpu: Callable[[], float], workdir: Path
    ) -> None:
        self.port = port
        self.plan = plan
        self.server_cpu = server_cpu
        self.workdir = workdir

    def _dispatcher(
        self, channel: str, command: str, name: str
    ) -> contextlib.AbstractAsyncContextManager[Dispatcher]:
        return running_dispatcher(
            self.port, channel, command, self.plan.concurrency, self.workdir, name
        )

    async def throughput(self) -> list[Throughput]:
        """Burst: the dispatcher idle and listening, then N tasks bulk-created. Backlog: N tasks
        created while no dispatcher runs, then a fresh one started. Each in its own channel."""
        plan = self.plan
        async with self._dispatcher("bench", plan.command, "burst") as disp:
            burst = Throughput("burst (created while idle)", plan.tasks)
            window = CpuWindow(disp, self.server_cpu)
            burst.create_seconds = await self._bulk("bench", plan.tasks)
            await self._drain(disp, burst, window, "bench")
        backlog = Throughput("backlog (created before start)", plan.tasks)
        backlog.create_seconds = await self._bulk("bench-backlog", plan.tasks)
        window = CpuWindow(None, self.server_cpu)
        async with self._dispatcher("bench-backlog", plan.command, "backlog") as disp:
            window.start(disp)  # from its first claim, near enough: start-up not counted
            await self._drain(disp, backlog, window, "bench-backlog")
        return [burst, backlog]

    async def _drain(
        self, disp: Dispatcher, row: Throughput, window: CpuWindow, channel: str
    ) -> None:
        await disp.wait_for("completed", row.tasks, within=STALL)
        row.cores = window.cores()
        claimed = [log_time(r) for r in disp.log.messages("claimed")]
        done = disp.log.messages("completed")
        row.completed = len({r["task_id"] for r in done})
        row.seconds = max(log_time(r) for r in done) - min(claimed)
        row.rate = row.tasks / row.seconds if row.seconds > 0 else 0.0
        async with self._connection() as conn:
            row.server_completed = await self._count(conn, channel, "completed")
        if len(claimed) != row.tasks or row.completed != row.tasks:
            row.errors.append(f"{len(claimed)} claims, {row.completed} completed of {row.tasks}")
        if row.server_completed != row.tasks:
            row.errors.append(f"the server counts {row.server_completed} completed of {row.tasks}")
        row.errors += disp.problems()

    async def pickup(self) -> Pickup:
        """One task at a time at ``pickup_rate``/s to an idle dispatcher whose command prints
        its own start time; the created → started latency of each."""
        plan = self.plan
        channel, row = "bench-pickup", Pickup(plan.pickup_tasks, plan.pickup_rate)
        # Uvicorn closes a connection idle for 5 s: a fresh one for each burst of requests.
        async with self._dispatcher(channel, STAMP_COMMAND, "pickup") as disp:
            async with self._connection() as conn:
                for i in range(plan.pickup_warmup):  # a process's first spawns are slower
                    await self._create(conn, channel, f"warm-up {i}")
                    await asyncio.sleep(0.1)
            await disp.wait_for("completed", plan.pickup_warmup, within=STALL)
            window = CpuWindow(disp, self.server_cpu)
            sent: dict[int, tuple[float, float]] = {}  # id → (request time, created_at)
            async with self._connection() as conn:
                t0 = time.perf_counter() + 0.05
                for i in range(plan.pickup_tasks):
                    delay = t0 + i / plan.pickup_rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    before = time.time()
                    task = await self._create(conn, channel, f"pickup {i}")
                    sent[task["id"]] = (before, parse_iso(task["created_at"]) / 1000)
                row.made = plan.pickup_tasks / (time.perf_counter() - t0)
            total = plan.pickup_warmup + plan.pickup_tasks
            await disp.wait_for("completed", total, within=STALL)
            row.cores = window.cores()
            claimed = {r["task_id"]: log_time(r) for r in disp.log.messages("claimed")}
            row.errors += disp.problems()
        async with self._connection() as conn:
            started = await self._started(conn, channel, set(sent), row)
        for task_id, (before, created_at) in sent.items():
            if task_id in started:
                row.from_request.append((started[task_id] - before) * 1000)
                row.from_created.append((started[task_id] - created_at) * 1000)
            if task_id in claimed:
                row.to_claimed.append((claimed[task_id] - before) * 1000)
        if len(row.from_request) != plan.pickup_tasks:
            row.errors.append(f"{len(row.from_request)} of {plan.pickup_tasks} start times")
        if row.made < 0.95 * plan.pickup_rate:
            row.notes.append(f"created {row.made:.1f}/s of {plan.pickup_rate:.0f}/s offered")
        return row

    async def _started(
        self, conn: Connection, channel: str, ids: set[int], row: Pickup
    ) -> dict[int, float]:
        """Each task's output: the child's own start time."""
        started: dict[int, float] = {}
        offset = 0
        while True:
            page = await self._get(conn, f"/tasks?channel={channel}&limit=1000&offset={offset}")
            for task in page["tasks"]:
                if task["id"] in ids:
                    try:
                        started[task["id"]] = float(task["outputs"][0])
                    except (TypeError, ValueError, IndexError) as exc:
                        row.errors.append(f"task {task['id']}: outputs {task['outputs']!r}: {exc}")
            offset += len(page["tasks"])
            if not page["tasks"] or offset >= page["count"]:
                return started

    # -- HTTP --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        conn = await connect("lean", HOST, self.port, {"X-Actor-ID": "bench-dispatch"})
        try:
            yield conn
        finally:
            await conn.close()

    async def _create(self, conn: Connection, channel: str, title: str) -> dict[str, Any]:
        body = orjson.dumps({"title": title, "channel": channel})
        status, answer = await conn.request("POST", "/tasks", body)
        if status != 201:
            raise RuntimeError(f"POST /tasks -> {status}: {answer[:300]!r}")
        task: dict[str, Any] = orjson.loads(answer)
        return task

    async def _bulk(self, channel: str, n: int) -> float:
        bodies = [orjson.dumps({"tasks": [{"title": f"bench {i}", "channel": channel}
                                          for i in range(start, min(n, start + BULK))]})
                  for start in range(0, n, BULK)]  # fmt: skip
        async with self._connection() as conn:
            t0 = time.perf_counter()
            for body in bodies:
                status, answer = await conn.request("POST", "/tasks/bulk", body)
                if status != 201:
                    raise RuntimeError(f"POST /tasks/bulk -> {status}: {answer[:300]!r}")
            return time.perf_counter() - t0

    async def _get(self, conn: Connection, path: str) -> dict[str, Any]:
        status, answer = await conn.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {answer[:300]!r}")
        body: dict[str, Any] = orjson.loads(answer)
        return body

    async def _count(self, conn: Connection, channel: str, status: str) -> int:
        page = await self._get(conn, f"/tasks?channel={channel}&status={status}&limit=1")
        return int(page["count"])
