"""A subscriber process of the feed benchmark: holds a share of the SSE subscribers.

    python bench/feed_subscriber.py --port P --count N --first I [--channel AGENT]

Started by events_pool.Subscribers (``script=``), one per client process, and speaks the same
protocol as events_subscriber.py: it opens ``N`` streams ``GET /feed/stream`` (``?agent=AGENT``
when given), prints ``{"ready": N}`` once every one has its 200 head, then answers ``progress``,
``stats`` and ``quit`` commands on stdin with one JSON line each on stdout.

The publisher tags every event's metadata with its row (``r``) and its send time (``t``):
deliveries are counted per row, so a late delivery still counts where it belongs. Per subscriber
and row it counts deliveries and sums a CRC-32 of each event id (the publisher sums the ids it
got 201 for), and it checks that ids only grow on its stream. A stream the server ends (a
subscriber that fell too far behind is dropped) is resumed with ``Last-Event-ID`` = the last id
it got, as SPEC §7 tells clients to, so a gap after a resume is still a loss.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import zlib
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import uvloop
from events_subscriber import HIST_STEP_MS, UNTAGGED, RungStats
from feed_wire import SseClient, open_sse

MAX_ERRORS_KEPT = 10
CONNECTING_AT_ONCE = 32
STAMPS_KEPT = 10_000
ENDED, LOST = 1, 2  # keys of ``closes``: the server ended the stream / the connection dropped


class Pool:
    def __init__(self, port: int, count: int, first: int, agent: str | None) -> None:
        self.port = port
        self.count = count
        self.first = first
        self.query = urlencode({"agent": agent}) if agent else ""
        self.rungs: dict[int, RungStats] = {}
        self.order_violations = 0  # an event id not above the previous one on that stream
        self.closes: Counter[int] = Counter()
        self.resumes = 0
        self.errors: list[str] = []
        self.error_count = 0
        self.quitting = False
        self.stamps: dict[str, float] = {}  # timestamp text → epoch: parsed once per process
        self.subscribers = [Subscriber(self, i) for i in range(count)]

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


class Subscriber:
    def __init__(self, pool: Pool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.last_id = b""
        self.client: SseClient | None = None
        self.live = False

    async def connect(self) -> None:
        resume = self.last_id.decode() if self.last_id else None
        self.client = await open_sse(self.pool.port, self.on_event, self.pool.query, resume)
        self.live = True

    async def keep_alive(self) -> None:
        """Resume with ``Last-Event-ID`` after the server ended the stream or dropped the
        connection. A stream this client gave up on itself is an error."""
        while self.client is not None:
            ended = await self.client.ended
            self.live = False
            if self.pool.quitting:
                return
            self.pool.closes[ENDED if ended else LOST] += 1
            if self.client.error or not self.last_id:
                why = f" ({self.client.error})" if self.client.error else " before any event"
                self.pool.error(f"subscriber {self.index}: the stream ended{why}")
                return
            self.pool.resumes += 1
            try:
                await self.connect()
            except Exception as exc:
                self.pool.error(f"subscriber {self.index} could not resume: {exc!r}")
                return

    def on_event(self, event_id: bytes, data: bytes, now: float) -> None:
        if event_id <= self.last_id:
            self.pool.order_violations += 1
        else:
            self.last_id = event_id
        event = orjson.loads(data)
        if event["id"].encode() != event_id:
            self.pool.error(f"id line {event_id!r} but data id {event['id']!r}")
        metadata = event.get("metadata") or {}
        stats = self.pool.rung(metadata.get("r", UNTAGGED))
        stats.count[self.index] += 1
        stats.id_sum[self.index] += zlib.crc32(event_id)
        stats.first = min(stats.first, now)
        stats.last = max(stats.last, now)
        sent = metadata.get("t")
        if sent is not None:
            ms = max(0.0, (now - sent) * 1000.0)
            stats.hist[int(ms / HIST_STEP_MS)] += 1
            stats.max_ms = max(stats.max_ms, ms)
        stamped = self.pool.stamp(event["timestamp"])
        stats.stamp_hist[int(max(0.0, (now - stamped) * 1000.0) / HIST_STEP_MS)] += 1


def _answer(document: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS) + b"\n")
    sys.stdout.buffer.flush()


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="index of the first subscriber")
    parser.add_argument("--channel", default=None, help="an agent to filter on; absent: all")
    args = parser.parse_args(argv)
    pool = Pool(args.port, args.count, args.first, args.channel)
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)  # a burst of connects overflows the backlog

    async def connect(sub: Subscriber) -> None:
        async with gate:
            await sub.connect()

    await asyncio.gather(*(connect(s) for s in pool.subscribers))
    keepers = [asyncio.create_task(s.keep_alive()) for s in pool.subscribers]
    _answer({"ready": args.count})

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
    for sub in pool.subscribers:
        if sub.client is not None:
            sub.client.close()
    for keeper in keepers:
        keeper.cancel()
    _answer({"bye": True})


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1:]))
