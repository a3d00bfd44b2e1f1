"""The dispatcher's main loop: pick up, claim, run, renew, report, retry, shut down.

Pickup is event-driven. A WebSocket stream of the events that can make work claimable (created,
released, lease expired, reopened, updated, and any completion, which may unblock a dependent) marks
the queue *dirty*; the claim loop then asks claim-next for as many tasks as there are free slots,
per channel, until a round comes back short. Claim-next is atomic on the server, so any number of
dispatchers can share a channel. A slow backstop poll covers what no event announces: a release
with a delay becoming claimable, and a stream that is down.

The attempt count is the server's ``attempts`` (incremented by every claim), so it survives
restarts: a task claimed with ``attempts`` above the limit had its earlier attempts end without a
report (a crash, a lost lease) and is failed at once instead of running again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ats.client import AsyncClient
from ats.dispatch.callbacks import Deliveries, callback_body
from ats.dispatch.completions import Completions
from ats.dispatch.executors import Done, Executor, Failed
from ats.dispatch.logs import Log
from ats.dispatch.notify import Notifier
from ats.dispatch.prompt import Work
from ats.dispatch.sealed import Opened, Refused, is_encrypted, open_task, seal_outputs
from ats.dispatch.settings import DispatchSettings
from ats.dispatch.tasks_keys import KeyAccess
from ats.errors import AtsError, Conflict, NotFound
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
_WATCHED = sorted({*_WAKERS, *_GONE, EventType.CLAIMED, EventType.COMPLETED}, key=lambda e: e.value)
MAX_RETRY_DELAY = 3600.0


@dataclass(slots=True)
class Running:
    task: Task
    job: asyncio.Task[None] | None = None
    stop_reason: str | None = None  # "shutdown", "lost" or "cancelled" once it is being stopped
    reporting: bool = False  # the result is on its way: let it land, never cancel
    started: float = field(default_factory=time.monotonic)


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
        self.executor = executor
        self.log = log
        self.deliveries = deliveries
        self.notifier = notifier
        self.keys = keys
        self.completions = Completions(client)
        self.counts: dict[str, int] = {
            "completed": 0,
            "failed": 0,
            "retried": 0,
            "rejected": 0,
            "released": 0,
        }
        self._running: dict[int, Running] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._dirty = True  # something may have become claimable since the last claim round
        self._more = True  # the last round filled every free slot: there may be more
        self._classes = {name: asyncio.Semaphore(n) for name, n in settings.limits.items()}
        self._channels = set(settings.channels)
        self._host = socket.gethostname()

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
            executor=self.executor.describe(),
            concurrency=s.concurrency,
            lease_ms=s.lease_ms,
            max_attempts=s.max_attempts,
            actor=self.client_actor(),
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
        return self.settings.concurrency - len(self._running)

    async def _claim_loop(self) -> None:
        channels = list(self.settings.channels)
        turn = 0
        while not self._stopping.is_set():
            await self._wake.wait()
            self._wake.clear()
            while not self._stopping.is_set() and self._free() > 0 and (self._dirty or self._more):
                self._dirty = False
                full = False
                for i in range(len(channels)):
                    want = min(self._free(), 100)
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
                    for task in tasks:
                        self._start(task)
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
            self.poke()

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
        run = self._running.get(event.task_id)
        if run is not None and not run.reporting and run.stop_reason is None:
            taken = event.type in _GONE or (
                event.type is EventType.UPDATED and event.task.status is not Status.IN_PROGRESS
            )
            mine = event.task.lease_token == run.task.lease_token
            if event.type in (EventType.CLAIMED, EventType.LEASE_EXPIRED) and not mine:
                taken = True
            if event.type is EventType.LEASE_EXPIRED:
                taken = True
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
            self._ended(event.task, event.task.payload, "task.failed")

    def _start(self, task: Task) -> None:
        run = Running(task)
        self._running[task.id] = run
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
        task = run.task
        try:
            await self._handle(run)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            if run.stop_reason == "shutdown" and not self.settings.leave_leases:
                # Not an attempt: restarts alone never fail a task for "max attempts".
                await self._release(
                    task, 0, "dispatcher shutting down", count="released", refund=True
                )
        except AtsError as exc:
            self.log.error("could not report", task_id=task.id, error=exc.message)
        finally:
            self._running.pop(task.id, None)
            if self._more or self._dirty:
                self._wake.set()

    async def _handle(self, run: Running) -> None:
        task = run.task
        limit = task.max_attempts or self.settings.max_attempts
        self.log.info(
            "claimed",
            task_id=task.id,
            title=task.title,
            channel=task.channel,
            attempt=task.attempts,
        )
        if task.attempts > limit:
            # Earlier attempts ended without a report (crashed worker, lost lease).
            await self._fail(run, f"Exceeded max retry attempts ({limit})", task.payload)
            return
        if task.type == "register" and "pubkey" in task.payload:
            await self._register(run)
            return
        try:
            opened = self._open(task)
        except Refused as refused:
            await self._reject(run, refused.reason)
            return
        work = Work(
            task.id, opened.title, opened.description, opened.payload, task.channel, task.attempts
        )
        env = {
            "ATS_TASK_ID": str(task.id),
            "ATS_URL": self.client.url,
            "ATS_CHANNEL": task.channel,
            "ATS_TASK_ATTEMPT": str(task.attempts),
        }
        async with self._class_slot(opened.payload, task), self._lease(run):
            result = await self.executor.run(work, env, self.settings.timeout)
        run.reporting = True
        if isinstance(result, Done):
            outputs = result.outputs
            if opened.encrypted:
                identity = self.keys.identity()
                assert identity is not None  # open_task refused the task otherwise
                outputs = seal_outputs(outputs, opened, identity)
            done = await self.completions.complete(task.id, outputs, task.lease_token)
            self.counts["completed"] += 1
            self.log.info(
                "completed",
                task_id=task.id,
                seconds=round(time.monotonic() - run.started, 3),
            )
            self._ended(done, opened.payload, "task.completed")
            return
        assert isinstance(result, Failed)
        # What the work printed may quote an encrypted task's content: never store it in clear.
        said = result.reason if opened.encrypted else result.full
        if task.attempts >= limit:
            reason = f"Exceeded max retry attempts ({limit}): {said}"
            await self._fail(run, reason, opened.payload)
            return
        delay = min(self.settings.retry_backoff * 2 ** (task.attempts - 1), MAX_RETRY_DELAY)
        reason = f"attempt {task.attempts} of {limit} failed: {said}"
        await self._release(task, delay, reason, count="retried")
        loop = asyncio.get_running_loop()
        loop.call_later(delay + 0.01, self.poke)

    def _open(self, task: Task) -> Opened:
        if not is_encrypted(task.payload) and not self.settings.require_encryption:
            # The common case reads no key file at all.
            return Opened(task.title, task.description, task.payload, False, None, None)
        return open_task(
            task, self.keys.load(), require_encryption=self.settings.require_encryption
        )

    @contextlib.asynccontextmanager
    async def _class_slot(self, payload: dict[str, Any], task: Task) -> AsyncIterator[None]:
        name = payload.get("class")
        semaphore = self._classes.get(name if isinstance(name, str) else task.type)
        if semaphore is None:
            yield
            return
        async with semaphore:
            yield

    @contextlib.asynccontextmanager
    async def _lease(self, run: Running) -> AsyncIterator[None]:
        keeper = asyncio.create_task(self._keep_lease(run), name=f"ats-lease-{run.task.id}")
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep_lease(self, run: Running) -> None:
        """Renew every lease/4 with the fencing token; a refusal means the task is not ours."""
        task = run.task
        every = self.settings.renew_every
        beats = 0
        while True:
            await asyncio.sleep(every)
            try:
                await self.client.claim(
                    task.id, lease_ms=self.settings.lease_ms, lease_token=task.lease_token
                )
            except (Conflict, NotFound) as exc:
                self.log.warning("lease lost", task_id=task.id, error=exc.message)
                self._stop_job(run, "lost")
                return
            except AtsError as exc:  # the server is away: the lease still runs; try again
                self.log.warning("lease renewal failed", task_id=task.id, error=exc.message)
                continue
            beats += 1
            self.log.debug("lease renewed", task_id=task.id)
            if self.settings.heartbeat:
                elapsed = round(time.monotonic() - run.started)
                with contextlib.suppress(AtsError):
                    await self.client.add_message(
                        task.id,
                        f"heartbeat {beats}: still running on {self._host} after {elapsed}s",
                    )

    # -- reports -----------------------------------------------------------------------------

    async def _fail(self, run: Running, reason: str, payload: dict[str, Any]) -> None:
        run.reporting = True
        task = run.task
        failed = await self.client.fail(task.id, reason, lease_token=task.lease_token)
        self.counts["failed"] += 1
        self.log.warning("failed", task_id=task.id, reason=reason)
        self._ended(failed, payload, "task.failed")

    async def _reject(self, run: Running, reason: str) -> None:
        run.reporting = True
        task = run.task
        rejected = await self.client.reject(task.id, reason)
        self.counts["rejected"] += 1
        self.log.warning("rejected", task_id=task.id, reason=reason)
        self._ended(rejected, task.payload, "task.rejected")

    async def _release(
        self, task: Task, delay: float, reason: str, *, count: str, refund: bool = False
    ) -> None:
        await self.client.release(
            task.id,
            delay_ms=int(delay * 1000),
            reason=reason,
            lease_token=task.lease_token,
            refund_attempt=refund,
        )
        self.counts[count] += 1
        self.log.info(
            "released" if count == "released" else "retrying",
            task_id=task.id,
            reason=reason,
            retry_in=round(delay, 3),
        )

    async def _register(self, run: Running) -> None:
        task = run.task
        try:
            fingerprint = self.keys.register(task)
        except AtsError as exc:
            await self._reject(run, f"invalid key registration: {exc.message}")
            return
        run.reporting = True
        outputs = [{"status": "pending_approval", "fingerprint": fingerprint}]
        done = await self.completions.complete(task.id, outputs, task.lease_token)
        self.counts["completed"] += 1
        self.log.info(
            "key registration waits for approval",
            task_id=task.id,
            fingerprint=fingerprint,
            approve=f"ats keys approve {fingerprint} NAME",
        )
        self._ended(done, task.payload, "task.completed")

    def _ended(self, task: Task, payload: dict[str, Any], event: str) -> None:
        url = payload.get("callback_url")
        if isinstance(url, str) and url:
            self.deliveries.submit(url, callback_body(task), what="callback", task_id=task.id)
        if not payload.get("quiet"):
            self.notifier.notify(task, event)

    # -- shutdown ----------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        runs = list(self._running.values())
        for run in runs:
            if not run.reporting and run.stop_reason is None:
                self._stop_job(run, "shutdown")
        jobs = [run.job for run in runs if run.job is not None]
        await asyncio.gather(*jobs, return_exceptions=True)
        await self.completions.flush()
        await self.deliveries.drain(10.0)
        self.log.info("dispatcher stopped", **self.counts)
