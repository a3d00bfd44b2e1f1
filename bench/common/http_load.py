"""The scenarios over HTTP against a running ``ats serve`` (SPEC §3 routes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import orjson

from bench.common.measure import Figure, Plan, Tally, measure
from bench.common.wire import ClientKind, Connection, WireError, connect

HOST = "127.0.0.1"


class HttpBench:
    def __init__(
        self, port: int, plan: Plan, client: ClientKind, server_cpu: Callable[[], float]
    ) -> None:
        self.port = port
        self.plan = plan
        self.client = client
        self.server_cpu = server_cpu
        self.completed_total = 0  # by this run's claim scenarios, all of them

    async def _connections(self, n: int, prefix: str) -> list[Connection]:
        return [
            await connect(self.client, HOST, self.port, {"X-Actor-ID": f"{prefix}-{i}"})
            for i in range(n)
        ]

    async def _call(
        self, conn: Connection, tally: Tally, method: str, path: str, body: bytes, expect: int
    ) -> bytes | None:
        """One request, timed and counted; None (and an error noted) unless ``expect`` came back."""
        t0 = time.perf_counter()
        try:
            status, answer = await conn.request(method, path, body)
        except WireError as exc:
            tally.error(f"{method} {path}: {exc}")
            return None
        tally.latencies.append(time.perf_counter() - t0)
        tally.requests += 1
        tally.statuses[status] += 1
        if status != expect:
            tally.error(f"{method} {path} -> {status}: {answer[:300]!r}")
            return None
        return answer

    async def create(self) -> Figure:
        plan = self.plan
        conns = await self._connections(plan.create_conns, "bench-create")
        body = orjson.dumps({"title": "bench create", "channel": "bench-create"})

        async def worker(conn: Connection, tally: Tally, deadline: float) -> None:
            while time.perf_counter() < deadline and tally.requests < plan.create_max:
                if await self._call(conn, tally, "POST", "/tasks", body, 201) is not None:
                    tally.done += 1

        try:
            return await self._run("create", "req/s", conns, worker)
        finally:
            await _close(conns)

    async def bulk(self, channel: str = "bench-bulk", max_requests: int | None = None) -> Figure:
        plan = self.plan
        limit = plan.bulk_max if max_requests is None else max_requests
        conns = await self._connections(plan.bulk_conns, "bench-bulk")
        body = _bulk_body(plan.bulk_size, channel)
        sent = 0

        async def worker(conn: Connection, tally: Tally, deadline: float) -> None:
            nonlocal sent
            while sent < limit and (max_requests is not None or time.perf_counter() < deadline):
                sent += 1
                answer = await self._call(conn, tally, "POST", "/tasks/bulk", body, 201)
                if answer is not None:
                    created = len(orjson.loads(answer)["tasks"])
                    if created != plan.bulk_size:
                        tally.error(f"bulk created {created} tasks, not {plan.bulk_size}")
                    tally.done += created

        try:
            return await self._run("bulk", "tasks/s", conns, worker)
        finally:
            await _close(conns)

    async def seed(self, channel: str, tasks: int) -> Figure:
        """Untimed set-up: ``tasks`` pending tasks in ``channel`` (rounded up to whole bulks)."""
        requests = -(-tasks // self.plan.bulk_size)
        return await self.bulk(channel, max_requests=requests)

    async def claim_complete(
        self, limit: int, channel: str | None = None, batch: bool = False
    ) -> Figure:
        """16 workers claim ``limit`` at a time and complete each claimed task with its lease token.

        Without ``channel`` the body is ``{"limit": n}``: the workers drain whatever is pending,
        oldest first (what create and bulk left, then the seed); with it, only that channel.
        ``batch`` completes a claimed batch with one ``POST /tasks/complete`` instead of one
        request per task.
        """
        plan = self.plan
        seed = plan.channel_seed if channel else plan.claim_seed[limit]
        seeded = await self.seed(channel or "bench-claim", seed)
        conns = await self._connections(plan.workers, f"bench-worker-{limit}")
        request = {"limit": limit, "lease_duration": plan.lease_ms}
        claim_body = orjson.dumps({**request, "channel": channel} if channel else request)
        claimed: list[int] = []
        completed: list[int] = []
        drained = False

        async def worker(conn: Connection, tally: Tally, deadline: float) -> None:
            nonlocal drained
            # The deadline is checked before a claim only: every claimed task gets completed.
            while time.perf_counter() < deadline:
                answer = await self._call(conn, tally, "POST", "/tasks/claim", claim_body, 200)
                if answer is None:
                    return
                tasks = orjson.loads(answer)["tasks"]
                if not tasks:
                    drained = True
                    return
                if batch:
                    claimed.extend(t["id"] for t in tasks)
                    items = [{"id": t["id"], "lease_token": t["lease_token"]} for t in tasks]
                    body = orjson.dumps({"tasks": items})
                    answer = await self._call(conn, tally, "POST", "/tasks/complete", body, 200)
                    if answer is not None:
                        result = orjson.loads(answer)
                        completed.extend(t["id"] for t in result["tasks"])
                        tally.done += len(result["tasks"])
                        for error in result["errors"]:
                            tally.errors.append(str(error))
                            tally.error_count += 1
                    continue
                for task in tasks:
                    claimed.append(task["id"])
                    done = orjson.dumps({"lease_token": task["lease_token"]})
                    path = f"/tasks/{task['id']}/complete"
                    if await self._call(conn, tally, "POST", path, done, 200) is not None:
                        completed.append(task["id"])
                        tally.done += 1

        name = claim_name(limit, channel, batch)
        try:
            figure = await self._run(name, "cycles/s" if limit == 1 else "tasks/s", conns, worker)
        finally:
            await _close(conns)
        self.completed_total += len(completed)
        problems = _exactly_once(claimed, completed)
        problems += await self._check_server(self.completed_total)
        figure.errors += problems
        figure.error_count += len(problems)
        figure.notes.append(f"{len(claimed)} claimed, {len(completed)} completed")
        if drained:
            figure.notes.append("the queue ran dry before the time was up: raise the seed")
        if seeded.error_count:
            figure.notes.append(f"seeding errors: {seeded.errors[:3]}")
        return figure

    async def _check_server(self, completed: int) -> list[str]:
        """The server's own counts must agree with ours: nothing lost, nothing left in progress."""
        [conn] = await self._connections(1, "bench-check")
        problems = []
        try:
            for status, expected in (("completed", completed), ("in_progress", 0)):
                code, answer = await conn.request("GET", f"/tasks?status={status}&limit=1")
                count = orjson.loads(answer).get("count") if code == 200 else None
                if count != expected:
                    problems.append(f"the server counts {count} {status} tasks, not {expected}")
        finally:
            await conn.close()
        return problems

    async def _run(
        self,
        name: str,
        unit: str,
        conns: list[Connection],
        worker: Callable[[Connection, Tally, float], Awaitable[None]],
    ) -> Figure:
        async def body(tally: Tally) -> None:
            deadline = time.perf_counter() + self.plan.duration
            async with asyncio.timeout(self.plan.grace):
                await asyncio.gather(*(worker(c, tally, deadline) for c in conns))

        figure = await measure(name, unit, body, self.server_cpu)
        figure.notes.append(f"{len(conns)} connections, {self.client} client")
        return figure


def _bulk_body(size: int, channel: str) -> bytes:
    tasks = [{"title": f"bench bulk {i}", "channel": channel} for i in range(size)]
    return orjson.dumps({"tasks": tasks})


def _exactly_once(claimed: list[int], completed: list[int]) -> list[str]:
    notes = []
    if len(set(claimed)) != len(claimed):
        notes.append(f"{len(claimed) - len(set(claimed))} tasks claimed twice")
    if sorted(completed) != sorted(set(claimed)):
        notes.append(f"claimed {len(set(claimed))} distinct tasks, completed {len(completed)}")
    return notes


async def _close(conns: list[Connection]) -> None:
    await asyncio.gather(*(c.close() for c in conns))


def claim_name(limit: int, channel: str | None, batch: bool) -> str:
    name = f"claim+complete limit {limit}"
    if limit > 1 and not batch:
        name += ", one complete per task"
    return name + (", one channel" if channel else "")
