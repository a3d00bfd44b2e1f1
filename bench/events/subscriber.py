"""A subscriber process of the event benchmark: holds a share of the WebSocket subscribers.

    python -m bench.events.subscriber --port P --count N --first I [--channel C]

Started by bench.events.pool.Subscribers, one per client process. It opens ``N`` connections to
``/ws``, subscribes each (to channel ``C``, or to everything), prints ``{"ready": …}`` and then
answers commands read from stdin, one JSON line each, with one JSON line on stdout:

- ``{"cmd": "progress", "rung": r}`` → the fewest deliveries any of its subscribers got for rung r
- ``{"cmd": "stats"}`` → everything it counted (see ``Pool.stats``), and its CPU seconds so far
- ``{"cmd": "quit"}`` → close every connection and exit

The creator tags every task with its rung (``payload.r``) and its send time (``payload.t``):
deliveries are counted per rung, so a late delivery still counts where it belongs. A subscriber
the server drops (1013, too far behind, or a bare disconnect) resumes with ``since`` = the last id
it got, as SPEC §4 tells clients to, so a gap is a real loss.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson
import uvloop

from bench.events.wire import WsClient, close_all, open_ws

HIST_STEP_MS = 0.1  # latency histogram resolution
UNTAGGED = -1  # rung of events whose task carries no payload.r (the create-throughput runs)
MAX_ERRORS_KEPT = 10
CONNECTING_AT_ONCE = 32
STAMPS_KEPT = 10_000


@dataclass
class RungStats:
    """What the subscribers of this process got for one rung."""

    count: list[int]  # deliveries, per subscriber
    id_sum: list[int]  # sum of the delivered task ids, per subscriber (checked against the creator)
    hist: Counter[int] = field(default_factory=Counter)  # latency in HIST_STEP_MS steps
    # The same from the event's created_at (the server's clock, whole ms, stamped before the
    # commit): what is left of the latency once the request is taken out.
    stamp_hist: Counter[int] = field(default_factory=Counter)
    max_ms: float = 0.0
    first: float = float("inf")  # receipt times, wall clock
    last: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "hist": dict(self.hist), "stamp_hist": dict(self.stamp_hist)}


class Subscribers(Protocol):
    live: bool

    async def connect(self) -> None: ...

    async def keep_alive(self) -> None: ...


class PoolBase:
    """What one subscriber process counts, whatever the wire (WebSocket here, SSE for the feed)."""

    def __init__(self, port: int, count: int, first: int) -> None:
        self.port = port
        self.count = count
        self.first = first
        self.rungs: dict[int, RungStats] = {}
        self.order_violations = 0  # an id not above the previous one on that connection
        self.closes: Counter[int] = Counter()
        self.resumes = 0
        self.errors: list[str] = []
        self.error_count = 0
        self.quitting = False
        self.stamps: dict[str, float] = {}  # timestamp text → epoch: parsed once per process
        self.subscribers: list[Any] = []

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def rung(self, r: int) -> RungStats:
        stats = self.rungs.get(r)
        if stats is None:
            stats = self.rungs[r] = RungStats([0] * self.count, [0] * self.count)
        return stats

    def stamp(self, text: str) -> float:
        stamped = self.stamps.get(text)
        if stamped is None:
            if len(self.stamps) > STAMPS_KEPT:
                self.stamps.clear()
            stamped = self.stamps[text] = datetime.fromisoformat(text).timestamp()
        return stamped

    def stats(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "cpu": usage.ru_utime + usage.ru_stime,
            "open": sum(1 for s in self.subscribers if s.live),
            "order_violations": self.order_violations,
            "closes": dict(self.closes),
            "resumes": self.resumes,
            "errors": self.errors,
            "error_count": self.error_count,
            "rungs": {r: s.as_json() for r, s in self.rungs.items()},
        }


class Pool(PoolBase):
    def __init__(self, port: int, count: int, first: int, channel: str | None) -> None:
        super().__init__(port, count, first)
        self.channel = channel
        self.subscribers = [Subscriber(self, i) for i in range(count)]


class Subscriber:
    def __init__(self, pool: Pool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.last_id = 0
        self.client: WsClient | None = None
        self.live = False

    async def connect(self, since: int | None = None) -> None:
        actor = f"bench-sub-{self.pool.first + self.index}"
        self.client = await open_ws(self.pool.port, actor, self.on_event)
        frame: dict[str, Any] = {"id": f"s{self.index}"}
        if self.pool.channel is not None:
            frame["channels"] = [self.pool.channel]
        if since is not None:
            frame["since"] = since
        await self.client.subscribe(frame)
        self.live = True

    async def keep_alive(self) -> None:
        """Resume with ``since`` after the server closed the connection, as the SDK does: with
        1013 (too far behind), or without a close frame (1006) when it gave up waiting for a
        reader to take the close. A close this client made itself is an error."""
        while self.client is not None:
            code = await self.client.closed
            self.live = False
            if self.pool.quitting:
                return
            self.pool.closes[code] += 1
            if self.client.error or not self.last_id:
                why = f" ({self.client.error})" if self.client.error else " before any event"
                self.pool.error(f"subscriber {self.index} closed with {code}{why}")
                return
            self.pool.resumes += 1
            try:
                await self.connect(since=self.last_id)
            except Exception as exc:
                self.pool.error(f"subscriber {self.index} could not resume: {exc!r}")
                return

    def on_event(self, envelope: dict[str, Any], now: float) -> None:
        event_id = envelope["id"]
        if event_id <= self.last_id:
            self.pool.order_violations += 1
        else:
            self.last_id = event_id
        if envelope["type"] != "task.created":
            return
        task = envelope["data"]["task"]
        payload = task.get("payload") or {}
        stats = self.pool.rung(payload.get("r", UNTAGGED))
        stats.count[self.index] += 1
        stats.id_sum[self.index] += task["id"]
        stats.first = min(stats.first, now)
        stats.last = max(stats.last, now)
        sent = payload.get("t")
        if sent is not None:
            ms = max(0.0, (now - sent) * 1000.0)
            stats.hist[int(ms / HIST_STEP_MS)] += 1
            stats.max_ms = max(stats.max_ms, ms)
        stamped = self.pool.stamp(envelope["created_at"])
        stats.stamp_hist[int(max(0.0, (now - stamped) * 1000.0) / HIST_STEP_MS)] += 1


def _answer(document: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS) + b"\n")
    sys.stdout.buffer.flush()


async def serve(pool: PoolBase, close: Callable[[], Awaitable[None]]) -> None:
    """Connect every subscriber, say "ready", then answer the driver's commands on stdin."""
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)  # a burst of 500 upgrades overflows the backlog

    async def connect(sub: Subscribers) -> None:
        async with gate:
            await sub.connect()

    await asyncio.gather(*(connect(s) for s in pool.subscribers))
    keepers = [asyncio.create_task(s.keep_alive()) for s in pool.subscribers]
    _answer({"ready": pool.count})

    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while line := await commands.readline():
        command = orjson.loads(line)
        if command["cmd"] == "progress":
            stats = pool.rungs.get(command["rung"])
            _answer({"fewest": min(stats.count) if stats else 0})
        elif command["cmd"] == "stats":
            _answer(pool.stats())
        elif command["cmd"] == "quit":
            break
    pool.quitting = True
    await close()
    for keeper in keepers:
        keeper.cancel()
    _answer({"bye": True})


def pool_arguments(argv: list[str], filter_help: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="index of the first subscriber")
    parser.add_argument("--channel", default=None, help=filter_help)
    return parser.parse_args(argv)


async def main(argv: list[str]) -> None:
    args = pool_arguments(argv, "absent: every channel")
    pool = Pool(args.port, args.count, args.first, args.channel)

    async def close() -> None:
        await close_all([s.client for s in pool.subscribers if s.client is not None])

    await serve(pool, close)


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1:]))
