"""The ceiling: the same operations straight through the store, in this process, no HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ats.errors import AtsError
from ats.lifecycle import Action, Complete
from ats.models import Actor, ActorType, Task, now_ms
from ats.store import NewTask, Store
from bench.common.http_load import claim_name
from bench.common.measure import Figure, Plan, Tally, measure

PROJECT = 1  # default/main, made by the first migration

Step = Callable[[Tally, float], Awaitable[None]]


def _actor(name: str) -> Actor:
    return Actor(ActorType.AGENT, name, name)


class StoreBench:
    def __init__(self, store: Store, plan: Plan) -> None:
        self.store = store
        self.plan = plan

    async def _call(self, tally: Tally, what: str, op: Awaitable[object]) -> object | None:
        t0 = time.perf_counter()
        try:
            result = await op
        except AtsError as exc:
            tally.error(f"{what}: {type(exc).__name__}: {exc}")
            return None
        tally.latencies.append(time.perf_counter() - t0)
        tally.requests += 1
        return result

    async def create(self) -> Figure:
        plan = self.plan
        actor = _actor("bench-create")
        spec = [NewTask(title="bench create", channel="bench-create")]

        async def worker(tally: Tally, deadline: float) -> None:
            while time.perf_counter() < deadline and tally.requests < plan.create_max:
                op = self.store.tasks.create_tasks(PROJECT, spec, actor, now_ms())
                if await self._call(tally, "create", op) is not None:
                    tally.done += 1

        return await self._run("create", "tasks/s", plan.create_conns, worker)

    async def bulk(self, channel: str = "bench-bulk", max_calls: int | None = None) -> Figure:
        plan = self.plan
        limit = plan.bulk_max if max_calls is None else max_calls
        actor = _actor("bench-bulk")
        specs = [NewTask(title=f"bench bulk {i}", channel=channel) for i in range(plan.bulk_size)]
        sent = 0

        async def worker(tally: Tally, deadline: float) -> None:
            nonlocal sent
            while sent < limit and (max_calls is not None or time.perf_counter() < deadline):
                sent += 1
                op = self.store.tasks.create_tasks(PROJECT, specs, actor, now_ms())
                created = await self._call(tally, "bulk create", op)
                if isinstance(created, list):
                    tally.done += len(created)

        return await self._run("bulk", "tasks/s", plan.bulk_conns, worker)

    async def claim_complete(
        self, limit: int, channel: str | None = None, batch: bool = False
    ) -> Figure:
        """As :meth:`http_load.HttpBench.claim_complete`, through the store."""
        plan = self.plan
        seed = plan.channel_seed if channel else plan.claim_seed[limit]
        await self.bulk(channel or "bench-claim", max_calls=-(-seed // plan.bulk_size))
        claimed: list[int] = []
        completed: list[int] = []
        index = 0

        async def worker(tally: Tally, deadline: float) -> None:
            nonlocal index
            index += 1
            actor = _actor(f"bench-worker-{index}")
            while time.perf_counter() < deadline:
                op = self.store.tasks.claim_next(
                    None, channel, None, plan.lease_ms, limit, actor, now_ms()
                )
                tasks = await self._call(tally, "claim_next", op)
                if not isinstance(tasks, list) or not tasks:
                    return
                if batch:
                    claimed.extend(t.id for t in tasks)
                    items: list[tuple[int, Action]] = [
                        (t.id, Complete(outputs=None, lease_token=t.lease_token)) for t in tasks
                    ]
                    many = self.store.tasks.transition_many(None, items, actor, now_ms())
                    results = await self._call(tally, "complete_many", many)
                    if isinstance(results, list):
                        ok = [r.id for r in results if isinstance(r, Task)]
                        completed.extend(ok)
                        tally.done += len(ok)
                    continue
                for task in tasks:
                    claimed.append(task.id)
                    action = Complete(outputs=None, lease_token=task.lease_token)
                    one = self.store.tasks.transition(task.id, None, action, actor, now_ms())
                    if await self._call(tally, "complete", one) is not None:
                        completed.append(task.id)
                        tally.done += 1

        name = claim_name(limit, channel, batch)
        unit = "cycles/s" if limit == 1 else "tasks/s"
        figure = await self._run(name, unit, plan.workers, worker)
        if sorted(completed) != sorted(set(claimed)) or len(claimed) != len(set(claimed)):
            figure.errors.append(f"claimed {len(claimed)}, completed {len(completed)}")
            figure.error_count += 1
        return figure

    async def _run(self, name: str, unit: str, concurrency: int, worker: Step) -> Figure:
        async def body(tally: Tally) -> None:
            deadline = time.perf_counter() + self.plan.duration
            async with asyncio.timeout(self.plan.grace):
                await asyncio.gather(*(worker(tally, deadline) for _ in range(concurrency)))

        figure = await measure(name, unit, body)
        figure.notes.append(f"{concurrency} concurrent callers, in-process")
        return figure
