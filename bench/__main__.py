"""The one entry point of the benchmarks.

    .venv/bin/python -m bench                       # lists the suites
    .venv/bin/python -m bench run SUITE [--help | its own options…]

Each suite keeps its own options and exit status; see bench/README.md.
"""

from __future__ import annotations

import importlib
import sys

# name → (module with ``run(argv) -> int``, what it measures)
SUITES: dict[str, tuple[str, str]] = {
    "http": (
        "bench.http.main",
        "create / bulk / claim+complete over HTTP, next to the store ceiling",
    ),
    "events": (
        "bench.events.main",
        "commit → WebSocket latency, fan-out to many, cost to creation",
    ),
    "feed": ("bench.feed.main", "feed publish vs create, publish → SSE latency"),
    "dispatch": ("bench.dispatch.main", "ats dispatch: pickup latency, throughput vs raw spawn"),
    "tags": ("bench.tags.main", "ats tag find over 10,000 files vs grep -rE"),
    "scale": ("bench.scale.main", "request latency as the tables grow 10k → 100k → 1M tasks"),
    "churn": ("bench.scale.churn", "table sizes after 1M claim+complete cycles and feed publishes"),
}


def usage() -> str:
    width = max(map(len, SUITES))
    lines = [line for line in (__doc__ or "").strip().splitlines()[1:4] if line.strip()]
    lines += ["", "suites:"]
    lines += [f"  {name:<{width}}  {what}" for name, (_, what) in SUITES.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "list"):
        print(usage())
        return 0
    if argv[0] != "run" or len(argv) < 2 or argv[1] not in SUITES:
        print(usage(), file=sys.stderr)
        return 2
    suite, rest = argv[1], argv[2:]
    sys.argv[0] = f"python -m bench run {suite}"  # argparse's prog, in each suite's --help
    module = importlib.import_module(SUITES[suite][0])
    return int(module.run(rest))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
