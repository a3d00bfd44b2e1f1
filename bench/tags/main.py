"""``ats tag find`` over a tree of 10,000 Markdown files, next to ``grep -rE`` in the same run.

    .venv/bin/python -m bench run tags [--files 10000] [--runs 7] [--dir DIR] [--seed 1]

1. Writes a tree of session notes (``--dir``, kept and reused when its parameters match; else a
   temporary directory): H1, ``**Tags**:`` line, paragraphs of 2-4 KB, some code fences and
   backticked mentions; a few percent carry ``#delegated-*`` tags on the Tags line or inline.
2. Warms the page cache, then times, alternating, ``ats tag find '#delegated-*' DIR`` (the real
   ``.venv/bin/ats`` process) and ``grep -rE '#delegated-[a-z0-9-]*' DIR``; median wall time of
   ``--runs`` runs each; also ``python -m ats.cli.tag_find`` (the same find without typer: what
   the CLI costs when its entry point takes the fast path) and a bare interpreter start.
3. Prints the table (ms, ratio to grep; target <= 3x) and the hit lines of both: ours must be at
   most grep's, since code mentions are not tags.
4. Where the time goes: interpreter start, the imports (``python -X importtime``, top entries),
   and the in-process walk / read / scan split.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
PATTERN = "#delegated-*"
GREP = "#delegated-[a-z0-9-]*"
WORDS = ["the", "parser", "queue", "worker", "lease", "retry", "server", "client", "token",
         "session", "review", "agent", "task", "build", "test", "deploy", "cache", "index",
         "schema", "migration", "branch", "commit", "release", "note", "summary", "context", "plan",
         "fix",
         "bug", "error", "log", "trace", "metric", "latency", "throughput", "batch", "stream",
         "event", "message", "channel", "owner", "priority", "status", "done", "open", "closed",
         "blocked", "waiting", "design", "draft", "decision", "question", "answer"]  # fmt: skip
NOUNS = ["fix", "research", "implementation", "review", "chores", "documentation", "brainstorm"]


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def note(rng: random.Random, n: int) -> str:
    """A session note of 2-4 KB; 1 in 20 is delegated, 1 in 20 mentions such a tag in code."""
    topic = " ".join(rng.choices(WORDS, k=3))
    tags = ["#session", f"#{rng.choice(WORDS)}"]
    roll = rng.random()
    if roll < 0.03:  # delegated on the Tags line
        tags.append(f"#delegated-{rng.choice(NOUNS)}")
    inline = 0.03 <= roll < 0.05  # delegated inline, in the body
    mentions = 0.05 <= roll < 0.10  # talks about the tag in code: a mention, not a tag
    parts = [f"# Session {n}: {topic}", f"**Tags**: {' '.join(tags)}", ""]
    target = rng.randint(2000, 4000)
    size = sum(len(p) for p in parts)
    while size < target:
        pick = rng.random()
        if pick < 0.08:
            command = "ats tag find '#delegated-fix' sessions/" if mentions else "make test"
            block = f"```bash\n# run it\n{command}\n```"
        elif pick < 0.16:
            name = f"#delegated-{rng.choice(NOUNS)}" if mentions else rng.choice(WORDS)
            block = f"Try `{name}` or `{rng.choice(WORDS)}()` first. {sentence(rng)}"
        elif pick < 0.18 and inline:
            block = f"{sentence(rng)} Please #delegated-{rng.choice(NOUNS)} this part."
        elif pick < 0.24:
            block = f"## {rng.choice(WORDS).capitalize()}\n\n- {sentence(rng)}\n- {sentence(rng)}"
        else:
            block = " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))
        parts.extend([block, ""])
        size += len(block) + 2
    return "\n".join(parts)


def generate(directory: Path, files: int, seed: int) -> None:
    marker = directory / ".bench-tags.json"
    wanted = {"files": files, "seed": seed, "generator": 2}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return
    rng = random.Random(seed)
    for n in range(files):
        path = directory / "sessions" / f"2025-{n % 12 + 1:02d}" / f"d{n % 97:02d}" / f"{n:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(note(rng, n), encoding="utf-8")
    marker.write_text(json.dumps(wanted))


def run_once(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # grep: 1 = no match
        sys.exit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout


def median_ms(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):  # alternate, so a busy moment on the box hits every command alike
        for name, argv in commands.items():
            times[name].append(run_once(argv)[0])
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def import_profile(argv: list[str], top: int = 8) -> list[tuple[int, str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, check=False
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return rows[:top]


def in_process(directory: Path) -> dict[str, float]:
    """The find itself, split: walk, read every file, the whole find (read + prefilter + scan)."""
    from ats.tags.find import _read, _walk, find  # here: the module import is timed with the CLI

    def best(step: Callable[[], object]) -> float:
        spans = []
        for _ in range(5):
            start = time.perf_counter()
            step()
            spans.append(time.perf_counter() - start)
        return min(spans) * 1000

    top = str(directory)
    names: list[str] = []
    _walk(top, names)

    def read_all() -> None:
        for name in names:
            _read(name)

    return {
        "walk (os.scandir)": best(lambda: _walk(top, [])),
        "walk + read bytes": best(lambda: (_walk(top, []), read_all())),
        "find() in-process (2 procs)": best(lambda: find(PATTERN, [directory])),
    }


def run(argv: list[str]) -> int:
    """The entry point of ``python -m bench run tags``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="Keep the tree here (reused when it matches).")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ats-bench-tags-") as scratch:
        directory = args.dir or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        generate(directory, args.files, args.seed)
        print(f"tree: {args.files} files in {directory} ({time.perf_counter() - started:.1f} s)")
        measure(directory, args.runs)
    return 0


def measure(directory: Path, runs: int) -> None:
    target = str(directory)
    commands = {
        "grep -rE": ["grep", "-rE", GREP, target],
        "ats tag find": [str(BIN / "ats"), "tag", "find", PATTERN, target],
    }
    # The same find without typer: what `ats tag find` costs once the entry point takes the fast
    # path (ats.cli.tag_find.fast_main) before importing typer.
    no_typer = [sys.executable, "-m", "ats.cli.tag_find", PATTERN, target]
    commands["python -m ats.cli.tag_find"] = no_typer
    commands["python -c pass"] = [sys.executable, "-c", "pass"]
    outputs = {name: run_once(argv)[1] for name, argv in commands.items()}  # warm the page cache
    medians = median_ms(commands, runs)
    grep_ms = medians["grep -rE"]
    print(f"\nmedian of {runs} runs, warm cache, {os.cpu_count()} CPUs")
    print(f"{'command':<30} {'ms':>8} {'x grep':>8} {'hit lines':>10}")
    for name, ms in medians.items():
        lines = len(outputs[name].splitlines())
        print(f"{name:<30} {ms:8.1f} {ms / grep_ms:8.2f} {lines:>10}")
    ours = len(outputs["ats tag find"].splitlines())
    theirs = len(outputs["grep -rE"].splitlines())
    verdict = "ok" if ours <= theirs else "MORE THAN GREP"
    print(f"hit lines: ats {ours} <= grep {theirs} ({verdict}; grep also counts code mentions)")
    print("\nin-process (best of 5):")
    for name, ms in in_process(directory).items():
        print(f"  {name:<28} {ms:8.1f} ms")
    print("\nimports of `ats tag find` (python -X importtime, cumulative us, top 8):")
    for micros, module in import_profile(["-m", "ats", "tag", "find", PATTERN, target]):
        print(f"  {micros:>8} {module}")
