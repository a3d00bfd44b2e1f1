"""Load for the fault tests: concurrent clients that keep a tally of every answer they got.

A fault test compares the database afterwards with what was *acknowledged* (a 2xx), and checks
that everything else was answered the way SPEC §10 says: ``503 {"error": …}`` fast, never a 500,
never a hang. A request the server never answered (it was killed) proves nothing either way.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.faults.harness import Server

WRITERS = 8
ANSWER_WITHIN_S = 10.0  # "fail fast": a request that takes longer counts as a hang

# (writer, n) → (path, JSON body) of that writer's n-th request
Make = Callable[[int, int], tuple[str, dict[str, Any]]]


@dataclass
class Tally:
    acked: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)  # 500s, non-JSON errors, hangs
    # (sent, answered, status) of every answered request, for outage figures
    answers: list[tuple[float, float, int]] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        self.acked.update(other.acked)
        self.statuses.update(other.statuses)
        self.unexpected += other.unexpected
        self.answers += other.answers

    def note(self, sent: float, r: httpx.Response) -> bool:
        """Record an answer; True when it was a 2xx."""
        self.answers.append((sent, time.monotonic(), r.status_code))
        self.statuses[r.status_code] += 1
        if r.is_success:
            return True
        if r.status_code != 503 or not _json_error(r):
            self.unexpected.append(f"{r.request.url.path}: {r.status_code} {r.text[:300]}")
        return False


def _json_error(r: httpx.Response) -> bool:
    try:
        body = r.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=ANSWER_WITHIN_S)


class Gone(Exception):
    """The server stopped answering (it was killed)."""


async def _send(
    c: httpx.AsyncClient, tally: Tally, path: str, body: dict[str, Any], until_gone: bool
) -> httpx.Response | None:
    """POST and note the answer; None when there was none. Raises :class:`Gone` when
    ``until_gone`` and the server went away."""
    sent = time.monotonic()
    try:
        r = await c.post(path, json=body)
    except httpx.TimeoutException:
        tally.unexpected.append(f"{path}: no answer within {ANSWER_WITHIN_S}s")
        raise Gone from None
    except httpx.TransportError as exc:
        if until_gone:
            raise Gone from None
        tally.unexpected.append(f"{path}: {exc!r}")  # the server itself never went away
        await asyncio.sleep(0.1)
        return None
    tally.note(sent, r)
    return r


async def write(
    url: str, make: Make, stop: asyncio.Event, *, writers: int = WRITERS, until_gone: bool
) -> Tally:
    """``writers`` clients, each sending its numbered requests one after the other until
    ``stop`` is set (or, with ``until_gone``, the server is gone)."""
    tally = Tally()
    async with client(url) as c:

        async def one(w: int) -> None:
            n = 0
            while not stop.is_set():
                path, body = make(w, n)
                try:
                    r = await _send(c, tally, path, body, until_gone)
                except Gone:
                    return
                if r is not None and r.is_success:
                    tally.acked[(w, n)] = r.json()
                elif r is not None:
                    await asyncio.sleep(0.02)  # refused: a real client backs off a little
                n += 1

        await asyncio.gather(*(one(w) for w in range(writers)))
    return tally


@dataclass
class Work:
    """What claim-next + complete workers were told: leases granted, completions acknowledged."""

    claimed: dict[int, dict[str, Any]] = field(default_factory=dict)  # id → the claimed task
    completing: set[int] = field(default_factory=set)  # complete sent, no answer
    completed: set[int] = field(default_factory=set)
    tally: Tally = field(default_factory=Tally)


async def work(
    url: str,
    channel: str,
    lease_ms: int,
    stop: asyncio.Event,
    *,
    workers: int = WRITERS,
    hold_every: int = 0,
    until_gone: bool,
) -> Work:
    """Workers claiming the next task of ``channel`` and completing it with its lease token;
    with ``hold_every``, every so many claimed tasks are kept (long work: the lease stays held)."""
    done = Work()
    async with client(url) as c:

        async def one(w: int) -> None:
            n = 0
            while not stop.is_set():
                claim = {"channel": channel, "lease_duration": lease_ms}
                try:
                    r = await _send(c, done.tally, "/tasks/claim", claim, until_gone)
                    if r is None or not r.is_success:
                        await asyncio.sleep(0.02)
                        continue
                    if not r.json()["tasks"]:
                        await asyncio.sleep(0.05)
                        continue
                    task = r.json()["tasks"][0]
                    done.claimed[task["id"]] = task
                    n += 1
                    if hold_every and n % hold_every == 0:
                        continue
                    body = {"lease_token": task["lease_token"], "outputs": {"by": w}}
                    done.completing.add(task["id"])
                    r = await _send(
                        c, done.tally, f"/tasks/{task['id']}/complete", body, until_gone
                    )
                except Gone:
                    return
                if r is not None and r.is_success:
                    done.completing.discard(task["id"])
                    done.completed.add(task["id"])
                elif r is not None:
                    done.completing.discard(task["id"])  # refused: still held, not completed

        await asyncio.gather(*(one(w) for w in range(workers)))
    return done


def outage(
    answers: list[tuple[float, float, int]], down: float, up: float
) -> tuple[float, float] | None:
    """For a database away from ``down`` to ``up``: how long clients were refused (first 503
    to the first 2xx after ``up``) and how long after ``up`` that 2xx came; None when nobody was
    refused, inf when nobody got a 2xx after ``up``."""
    refused = [end for sent, end, status in answers if status == 503 and end >= down]
    if not refused:
        return None
    back = [end for sent, end, status in answers if 200 <= status < 300 and sent >= up]
    first_back = min(back, default=float("inf"))
    return first_back - min(refused), first_back - up


def kill_soon(server: Server) -> asyncio.Task[None]:
    """``kill -9`` the server in a moment, wherever its stream of commits is then."""

    async def later() -> None:
        await asyncio.sleep(random.uniform(0.5, 1.3))
        server.kill()

    return asyncio.create_task(later())


async def until_killed(server: Server, make: Make) -> Tally:
    """8 writers until the server is killed under them; what they were told."""
    killer = kill_soon(server)
    tally = await write(server.url, make, asyncio.Event(), until_gone=True)
    await killer
    assert tally.unexpected == [], tally.unexpected[:5]
    return tally
