"""Completions go to the server in batches: one ``POST /tasks/complete`` carries every result
that finished while the previous call was in flight (up to 100).

With many short tasks this halves the dispatcher's requests, and each job still awaits its own
answer: the completed task, or the error refusing it (a lost lease, a stale token).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ats.client import AsyncClient
from ats.errors import AtsError, Conflict
from ats.models import Task

BATCH = 100


class Completions:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._queue: list[tuple[dict[str, Any], asyncio.Future[Task]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def complete(self, task_id: int, outputs: list[Any], lease_token: int) -> Task:
        """Complete the task (batched with others); raises the error that refused it."""
        future: asyncio.Future[Task] = asyncio.get_running_loop().create_future()
        item = {"id": task_id, "outputs": outputs, "lease_token": lease_token}
        self._queue.append((item, future))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(), name="ats-dispatch-completions")
        # Shielded: a job cancelled while its result is on the way must not leave the batch
        # half-answered; the completion still lands and the job learns nothing it needs.
        return await asyncio.shield(future)

    async def _send(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
            try:
                done, errors = await self.client.complete_many([item for item, _ in batch])
            except AtsError as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            by_id = {t.id: t for t in done}
            refused = {int(e["id"]): e for e in errors}
            for item, future in batch:
                if future.done():
                    continue
                task = by_id.get(item["id"])
                if task is not None:
                    future.set_result(task)
                else:
                    error = refused.get(item["id"], {"error": "no answer for this task"})
                    future.set_exception(Conflict(str(error.get("error"))))

    async def flush(self) -> None:
        sender = self._sender
        if sender is not None:
            await asyncio.shield(sender)
