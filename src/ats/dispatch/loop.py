"""The dispatcher's main loop: pick up, claim, hand each task to the worker (job.py), shut down.

Pickup is event-driven. A WebSocket stream of the events that can make work claimable (created,
released, lease expired, reopened, updated, and any completion, which may unblock a dependent) marks
the queue *dirty*; the claim loop then asks claim-next for as many tasks as there are free slots,
per channel, until a round comes back short. Claim-next is atomic on the server, so any number of
dispatchers can share a channel. A slow backstop poll covers what no event announces: a release
with a delay becoming claimable, and a stream that is down.

The event stream also tells the dispatcher when a task it runs is taken away (cancelled, deleted,
finished by someone else, its lease expired): the work is stopped and nothing is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from ats.client import AsyncClient
from ats.dispatch.callbacks import Deliveries
from ats.dispatch.executors import Executor
from ats.dispatch.job import Running, Worker
from ats.dispatch.logs import Log
from ats.dispatch.notify import Notifier
from ats.dispatch.settings import DispatchSettings
from ats.dispatch.tasks_keys import KeyAccess
from ats.errors import AtsError
from ats.models import Event, EventType, Status, Task

# Events after which claim-next may find something new.
_WAKERS = frozenset(
    {
        EventType.CREATED,
        EventType.RELEASED,
        EventType.LEASE_EXPIRED,
        EventType.REOPENED,
        EventType.UPDATED,
    }
)
# Events that take a running task away from us.
_GONE = frozenset(
    {
        EventType.CANCELLED,
        EventType.DELETED,
        EventType.FAILED,
        EventType.REJECTED,
        EventType.COMPLETED,
    }
)
# Claiming ahead (a buffer of up to 2 x concurrency claimed tasks) pays while each task takes
# less than this: batches of claims instead of one round trip per freed slot. Longer work gets
# no buffer; a buffered task that still waits after PREFETCH_MAX_WAIT is handed back.
PREFETCH_BELOW = 0.25
PREFETCH_MAX_WAIT = 5.0
# Not task.claimed: our own claims and renewals would double the stream for nothing; a task
# taken over after its lease ran out always comes with task.lease_expired.
_WATCHED = sorted({*_WAKERS, *_GONE}, key=lambda e: e.value)


def _callback_scope(s: DispatchSettings) -> str:
    """Where task callbacks may go, for the start line: an operator should see the exception."""
    if s.allow_private_callbacks:
        return "any address (--allow-private-callbacks)"
    if s.callback_allow_hosts:
        return "public addresses and " + ", ".join(s.callback_allow_hosts)
    return "public addresses only"


class Dispatcher:
    def __init__(
        self,
        client: AsyncClient,
        settings: DispatchSettings,
        executor: Executor,
        log: Log,
        *,
        deliveries: Deliveries,
        notifier: Notifier,
        keys: KeyAccess,
    ) -> None:
        self.client = client
        self.settings = settings
        self.log = log
        self.deliveries = deliveries
        self.worker = Worker(
            client,
            settings,
            executor,
            log,
            deliveries=deliveries,
            notifier=notifier,
            keys=keys,
            stop_job=self._stop_job,
            poke=self.poke,
            work_done=self._free_slot,
        )
        self._running: dict[int, Running] = {}  # claimed and not yet reported
        self._busy = 0  # of those, the ones whose work still runs (see --concurrency)
        self._ready: deque[tuple[Task, float]] = deque()  # claimed ahead, waiting for a slot
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._dirty = True  # something may have become claimable since the last claim round
        self._more = True  # the last round filled every free slot: there may be more
        self._channels = set(settings.channels)

    # -- control -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; in-flight work is stopped and handed back (see :meth:`run`)."""
        if not self._stopping.is_set():
            self.log.info("stop requested", in_flight=len(self._running))
        self._stopping.set()
        self._wake.set()

    def poke(self) -> None:
        self._dirty = True
        self._wake.set()

    async def run(self) -> None:
        """Until :meth:`stop`: then stop the work, release it (unless leave_leases), flush."""
        s = self.settings
        self.log.info(
            "dispatcher started",
            channels=list(s.channels),
            executor=self.worker.executor.describe(),
            concurrency=s.concurrency,
            lease_ms=s.lease_ms,
            max_attempts=s.max_attempts,
            actor=self.client_actor(),
            callbacks=_callback_scope(s),
        )
        helpers = [
            asyncio.create_task(self._follow(), name="ats-dispatch-events"),
            asyncio.create_task(self._backstop(), name="ats-dispatch-backstop"),
        ]
        try:
            await self._claim_loop()
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._shutdown()

    def client_actor(self) -> str:
        return self.client.actor.id

    # -- pickup ------------------------------------------------------------------------------

    def _free(self) -> int:
        return self.settings.concurrency - self._busy

    def _room(self) -> int:
        """How many tasks a claim may take: the free slots, plus a buffer of claimed tasks
        waiting for a slot while the work is short (see PREFETCH_BELOW)."""
        recent = self.worker.recent_seconds
        ahead = (
            2 * self.settings.concurrency if recent is not None and recent < PREFETCH_BELOW else 0
        )
        return self._free() + max(0, ahead - len(self._ready))

    def _should_claim(self) -> bool:
        if self._stopping.is_set() or not (self._dirty or self._more):
            return False
        if not self._ready:
            return self._room() > 0  # slots wait for work: claim at once
        # A buffer is there: refill it in batches, off the path of any waiting slot.
        return self._room() >= self.settings.concurrency

    def _free_slot(self, run: Running) -> None:
        if run.holds_slot:
            run.holds_slot = False
            self._busy -= 1
            while self._ready and self._free() > 0:
                self._start(self._ready.popleft()[0])
            if self._should_claim():
                self._wake.set()

    async def _claim_loop(self) -> None:
        channels = list(self.settings.channels)
        turn = 0
        while not self._stopping.is_set():
            await self._wake.wait()
            self._wake.clear()
            while self._should_claim():
                self._dirty = False
                full = False
                for i in range(len(channels)):
                    want = min(self._room(), 100)
                    if want <= 0 or self._stopping.is_set():
                        full = True
                        break
                    channel = channels[(turn + i) % len(channels)]
                    try:
                        tasks = await self.client.claim_next(
                            channel=channel, lease_ms=self.settings.lease_ms, limit=want
                        )
                    except AtsError as exc:
                        self.log.warning("claim failed", channel=channel, error=exc.message)
                        await self._pause(1.0)
                        self._dirty = True
                        break
                    now = time.monotonic()
                    for task in tasks:
                        if self._free() > 0:
                            self._start(task)
                        else:
                            self._ready.append((task, now))
                    full = full or len(tasks) == want
                turn += 1
                self._more = full

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _backstop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            await self._hand_back_stale()
            self.poke()

    async def _hand_back_stale(self) -> None:
        """A claimed task still waiting for a slot after PREFETCH_MAX_WAIT (the work got long)
        goes back to the queue, where another dispatcher may take it now."""
        limit = time.monotonic() - PREFETCH_MAX_WAIT
        stale = [entry for entry in self._ready if entry[1] < limit]
        if stale:
            # The work is not short any more: no buffer until short runs are seen again.
            self.worker.recent_seconds = PREFETCH_MAX_WAIT
        for entry in stale:
            self._ready.remove(entry)
        await self._hand_back([task for task, _ in stale], "waited too long for a free slot")

    async def _hand_back(self, tasks: list[Task], reason: str) -> None:
        for task in tasks:
            try:
                await self.client.release(
                    task.id, reason=reason, lease_token=task.lease_token, refund_attempt=True
                )
            except AtsError as exc:
                self.log.warning("could not hand back", task_id=task.id, error=exc.message)
            else:
                self.worker.counts["released"] += 1
                self.log.info("handed back", task_id=task.id, reason=reason)

    async def _follow(self) -> None:
        """Wake the claim loop on events; stop work that was taken away from us."""
        delay = 0.5
        while True:
            stream = self.client.events(
                event_types=[e.value for e in _WATCHED],
                on_connect=lambda _after: self._connected(),
                on_disconnect=lambda reason, wait: self.log.warning(
                    "event stream lost; reconnecting", reason=reason, retry_in=round(wait, 2)
                ),
            )
            try:
                async with stream:
                    async for event in stream:
                        self._on_event(event)
            except AtsError as exc:
                self.log.warning("event stream unavailable; polling meanwhile", error=exc.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _connected(self) -> None:
        self.log.info("listening for events", channels=sorted(self._channels))
        self.poke()  # whatever arrived while we were not listening is claimable now

    def _on_event(self, event: Event) -> None:
        if self._ready and (event.type in _GONE or event.type is EventType.LEASE_EXPIRED):
            self._ready = deque(entry for entry in self._ready if entry[0].id != event.task_id)
        run = self._running.get(event.task_id)
        if run is not None and not run.reporting and run.stop_reason is None:
            taken = (
                event.type in _GONE
                or event.type is EventType.LEASE_EXPIRED
                or (event.type is EventType.UPDATED and event.task.status is not Status.IN_PROGRESS)
            )
            if taken:
                self._stop_job(run, "cancelled" if event.type in _GONE else "lost")
        if event.type is EventType.COMPLETED or (
            event.type in _WAKERS and event.channel in self._channels
        ):
            self.poke()
        if (
            event.type is EventType.FAILED
            and (event.task.reason or "").startswith("Blocked:")
            and event.actor.id == self.client_actor()
            and event.channel in self._channels
        ):
            # Dependents the server failed because a task we failed blocks them.
            self.worker.ended(event.task, event.task.payload, "task.failed")

    def _start(self, task: Task) -> None:
        run = Running(task)
        self._running[task.id] = run
        self._busy += 1
        run.job = asyncio.create_task(self._job(run), name=f"ats-task-{task.id}")

    def _stop_job(self, run: Running, reason: str) -> None:
        run.stop_reason = reason
        self.log.info(
            "stopping work",
            task_id=run.task.id,
            reason={"lost": "lease lost", "cancelled": "task ended elsewhere"}.get(reason, reason),
        )
        if run.job is not None:
            run.job.cancel()

    # -- one task ----------------------------------------------------------------------------

    async def _job(self, run: Running) -> None:
        try:
            await self.worker.handle(run)
        finally:
            self._running.pop(run.task.id, None)
            self._free_slot(run)

    # -- shutdown ----------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        runs = list(self._running.values())
        for run in runs:
            if not run.reporting and run.stop_reason is None:
                self._stop_job(run, "shutdown")
        jobs = [run.job for run in runs if run.job is not None]
        # Never started, so handed back even with --leave-leases: nothing ran that a lease
        # would protect.
        waiting, self._ready = [task for task, _ in self._ready], deque()
        await asyncio.gather(
            *jobs, self._hand_back(waiting, "dispatcher shutting down"), return_exceptions=True
        )
        await self.worker.completions.flush()
        await self.deliveries.drain(10.0)
        self.log.info("dispatcher stopped", **self.worker.counts)
