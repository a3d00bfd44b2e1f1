"""A subscriber process of the feed benchmark: holds a share of the SSE subscribers.

    python -m bench.feed.subscriber --port P --count N --first I [--channel AGENT]

Started by bench.events.pool.Subscribers (``script=``), one per client process, and speaks the same
protocol as events/subscriber.py: it opens ``N`` streams ``GET /feed/stream`` (``?agent=AGENT``
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

import sys
import zlib
from urllib.parse import urlencode

import orjson
import uvloop

from bench.events.subscriber import HIST_STEP_MS, UNTAGGED, PoolBase, pool_arguments, serve
from bench.feed.wire import SseClient, open_sse

MAX_ERRORS_KEPT = 10
CONNECTING_AT_ONCE = 32
STAMPS_KEPT = 10_000
ENDED, LOST = 1, 2  # keys of ``closes``: the server ended the stream / the connection dropped


class Pool(PoolBase):
    def __init__(self, port: int, count: int, first: int, agent: str | None) -> None:
        super().__init__(port, count, first)
        self.query = urlencode({"agent": agent}) if agent else ""
        self.subscribers = [Subscriber(self, i) for i in range(count)]


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


async def main(argv: list[str]) -> None:
    args = pool_arguments(argv, "an agent to filter on; absent: all")
    pool = Pool(args.port, args.count, args.first, args.channel)

    async def close() -> None:
        for sub in pool.subscribers:
            if sub.client is not None:
                sub.client.close()

    await serve(pool, close)


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1:]))
