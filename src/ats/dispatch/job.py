"""One claimed task, from claim to report: open (decrypt), run under a renewed lease, then
complete, retry (release with backoff) or fail; reject what must not run; tell callbacks and
notifications when it ends.

The attempt count is the server's ``attempts`` (incremented by every claim), so it survives
restarts: a task claimed with ``attempts`` above the limit had its earlier attempts end without a
report (a crash, a lost lease) and is failed at once instead of running again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
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
from ats.models import Task

MAX_RETRY_DELAY = 3600.0


@dataclass(slots=True)
class Running:
    task: Task
    job: asyncio.Task[None] | None = None
    stop_reason: str | None = None  # "shutdown", "lost" or "cancelled" once it is being stopped
    reporting: bool = False  # the result is on its way: let it land, never cancel
    holds_slot: bool = True  # counts against --concurrency until the work itself is over
    started: float = field(default_factory=time.monotonic)


class Worker:
    """Does the work of each claimed task; the dispatcher owns the set of running tasks."""

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
        stop_job: Callable[[Running, str], None],
        poke: Callable[[], None],
        work_done: Callable[[Running], None],
    ) -> None:
        self.client = client
        self.settings = settings
        self.executor = executor
        self.log = log
        self.deliveries = deliveries
        self.notifier = notifier
        self.keys = keys
        self.stop_job = stop_job
        self.poke = poke
        self.work_done = work_done
        self.completions = Completions(client)
        self.counts: dict[str, int] = {
            "completed": 0,
            "failed": 0,
            "retried": 0,
            "rejected": 0,
            "released": 0,
        }
        self._classes = {name: asyncio.Semaphore(n) for name, n in settings.limits.items()}
        self.recent_seconds: float | None = None  # moving average of how long the work takes
        self._host = socket.gethostname()

    async def handle(self, run: Running) -> None:
        """Run one claimed task to its report; on cancellation hand it back if shutting down."""
        try:
            await self._handle(run)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            if run.stop_reason == "shutdown" and not self.settings.leave_leases:
                # Not an attempt: restarts alone never fail a task for "max attempts".
                await self._release(
                    run.task, 0, "dispatcher shutting down", count="released", refund=True
                )
        except AtsError as exc:
            self.log.error("could not report", task_id=run.task.id, error=exc.message)
        except Exception as exc:  # a bug must not leave the task leased until it expires
            self.log.error("job crashed", task_id=run.task.id, error=f"{type(exc).__name__}: {exc}")
            if not run.reporting:
                with contextlib.suppress(AtsError):
                    await self._release(
                        run.task, self.settings.retry_backoff, "dispatcher error", count="retried"
                    )

    def _reporting(self, run: Running) -> None:
        # The work is over: its slot can take the next task while the report travels (reports
        # are batched, and a slot held for a round trip is a slot doing nothing).
        run.reporting = True
        self.work_done(run)

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
            began = time.monotonic()
            result = await self.executor.run(work, env, self.settings.timeout)
            took = time.monotonic() - began
        previous = self.recent_seconds
        self.recent_seconds = took if previous is None else 0.8 * previous + 0.2 * took
        self._reporting(run)
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
            self.ended(done, opened.payload, "task.completed")
            return
        assert isinstance(result, Failed)
        # What the work printed may quote an encrypted task's content: never store it in clear.
        said = result.reason if opened.encrypted else result.full
        if result.final:
            await self._fail(run, said, opened.payload)
            return
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
        if not self._classes:
            yield
            return
        name = payload.get("class")
        semaphore = self._classes.get(name if isinstance(name, str) else task.type)
        if semaphore is None:
            yield
            return
        async with semaphore:
            yield

    @contextlib.asynccontextmanager
    async def _lease(self, run: Running) -> AsyncIterator[None]:
        # Most work ends long before its first renewal is due: a timer per job costs far less
        # than a task per job, and the keeper task starts only when the timer fires.
        keepers: list[asyncio.Task[None]] = []

        def start() -> None:
            name = f"ats-lease-{run.task.id}"
            keepers.append(asyncio.create_task(self._keep_lease(run), name=name))

        timer = asyncio.get_running_loop().call_later(self.settings.renew_every, start)
        try:
            yield
        finally:
            timer.cancel()
            for keeper in keepers:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper

    async def _keep_lease(self, run: Running) -> None:
        """Renew every lease/4 with the fencing token; a refusal means the task is not ours.
        Started when the first renewal is due (see _lease)."""
        task = run.task
        beats = 0
        while True:
            try:
                await self.client.claim(
                    task.id, lease_ms=self.settings.lease_ms, lease_token=task.lease_token
                )
            except (Conflict, NotFound) as exc:
                self.log.warning("lease lost", task_id=task.id, error=exc.message)
                self.stop_job(run, "lost")
                return
            except AtsError as exc:  # the server is away: the lease still runs; try again
                self.log.warning("lease renewal failed", task_id=task.id, error=exc.message)
            else:
                beats += 1
                self.log.debug("lease renewed", task_id=task.id)
                if self.settings.heartbeat:
                    elapsed = round(time.monotonic() - run.started)
                    with contextlib.suppress(AtsError):
                        await self.client.add_message(
                            task.id,
                            f"heartbeat {beats}: still running on {self._host} after {elapsed}s",
                        )
            await asyncio.sleep(self.settings.renew_every)

    # -- reports -----------------------------------------------------------------------------

    async def _fail(self, run: Running, reason: str, payload: dict[str, Any]) -> None:
        self._reporting(run)
        task = run.task
        failed = await self.client.fail(task.id, reason, lease_token=task.lease_token)
        self.counts["failed"] += 1
        self.log.warning("failed", task_id=task.id, reason=reason)
        self.ended(failed, payload, "task.failed")

    async def _reject(self, run: Running, reason: str) -> None:
        self._reporting(run)
        task = run.task
        rejected = await self.client.reject(task.id, reason)
        self.counts["rejected"] += 1
        self.log.warning("rejected", task_id=task.id, reason=reason)
        self.ended(rejected, task.payload, "task.rejected")

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
        self._reporting(run)
        outputs = [{"status": "pending_approval", "fingerprint": fingerprint}]
        done = await self.completions.complete(task.id, outputs, task.lease_token)
        self.counts["completed"] += 1
        self.log.info(
            "key registration waits for approval",
            task_id=task.id,
            fingerprint=fingerprint,
            approve=f"ats keys approve {fingerprint} NAME",
        )
        self.ended(done, task.payload, "task.completed")

    def ended(self, task: Task, payload: dict[str, Any], event: str) -> None:
        url = payload.get("callback_url")
        if isinstance(url, str) and url:
            self.deliveries.submit(url, callback_body(task), what="callback", task_id=task.id)
        if not payload.get("quiet"):
            self.notifier.notify(task, event)
