"""``ats delegate watch``: a daemon that runs the claim step whenever tagged files change.

Changes come from ``watchfiles`` (inotify on Linux; polling with ``poll=True`` or when the OS
refuses a watcher, e.g. the inotify watch limit). They are gathered until nothing has changed for
``quiet`` seconds, so a burst of edits (a person approving twenty items, an agent writing files)
becomes one batch and one claim run over the changed files.

Each file offered is remembered with its fingerprint (mtime and size): an item that was skipped,
declined or taken by someone else is not offered again until its file changes; touching the file
counts as a change, on purpose, so a person can ask for another look. The fingerprint is taken
after the run, so the daemon's own claim writes neither re-offer the rest of a file nor make a
batch of their own (an edit landing in the instant between the write and the fingerprint would
be missed until the file's next change).
Routes start in the background (the daemon keeps watching) and are reaped and logged as they end.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, watch

from ats.tags.delegate import Choose, Outcome, claim, collect, group
from ats.tags.find import markdown_files
from ats.tags.route import Result, Run, plan, start
from ats.tags.table import Table

Fingerprint = tuple[int, int]
_SUFFIXES = (".md", ".markdown")


def _markdown(change: Change, path: str) -> bool:
    return path.lower().endswith(_SUFFIXES)


def fingerprint(path: Path) -> Fingerprint | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class Memory:
    """Each file's fingerprint when the daemon last offered its items."""

    def __init__(self) -> None:
        self._seen: dict[str, Fingerprint] = {}

    def changed(self, files: Sequence[Path]) -> list[Path]:
        """The files that exist and changed since they were last offered (or never were)."""
        return [
            f
            for f in files
            if (now := fingerprint(f)) is not None and self._seen.get(os.path.abspath(f)) != now
        ]

    def remember(self, files: Sequence[Path]) -> None:
        for f in files:
            if (now := fingerprint(f)) is not None:
                self._seen[os.path.abspath(f)] = now


def quiet_batches(
    paths: Sequence[Path],
    quiet: float,
    stop: threading.Event,
    *,
    poll: bool = False,
    idle: Callable[[], None] = lambda: None,
    log: Callable[[str], None] = lambda line: None,
) -> Iterator[list[Path]]:
    """Sets of changed Markdown files, each yielded once nothing changed for ``quiet`` s.

    ``idle`` runs on every wake-up (at least every half second), changes or not.
    """
    tick_ms = max(50, min(500, int(quiet * 250)))
    pending: set[Path] = set()
    last = 0.0
    for changes in _changes(paths, stop, tick_ms, poll, log):
        idle()
        now = time.monotonic()
        if changes:
            pending.update(Path(p) for kind, p in changes if kind is not Change.deleted)
            last = now
        if pending and now - last >= quiet:
            yield sorted(pending)
            pending = set()


def _changes(
    paths: Sequence[Path],
    stop: threading.Event,
    tick_ms: int,
    poll: bool,
    log: Callable[[str], None],
) -> Iterator[set[tuple[Change, str]]]:
    def stream(force_polling: bool) -> Iterator[set[tuple[Change, str]]]:
        return watch(
            *paths,
            watch_filter=_markdown,
            stop_event=stop,
            rust_timeout=tick_ms,
            yield_on_timeout=True,  # wakes us up to notice the end of a quiet period
            raise_interrupt=False,
            force_polling=force_polling,
            poll_delay_ms=min(300, tick_ms),
        )

    try:
        yield from stream(poll)
    except FileNotFoundError:
        raise  # a watched path vanished: polling would not find it either
    except (OSError, RuntimeError) as exc:
        # inotify refused (the watch limit, a container without it): polling still works.
        if poll:
            raise
        log(f"file notifications unavailable ({exc}); polling instead")
        yield from stream(True)


@dataclass(frozen=True, slots=True)
class Batch:
    number: int
    files: int
    offered: int
    outcome: Outcome
    started: list[Run]
    failed: list[Result]  # routes that could not start

    def describe(self) -> str:
        o = self.outcome
        head = f"batch {self.number}: {self.files} file(s) changed"
        if not self.number:
            head = f"initial scan: {self.files} file(s)"
        text = (
            f"{head}, {self.offered} offered, "
            f"{o.claimed_count} claimed, {len(o.skipped)} skipped, "
            f"{len(o.taken)} already claimed by another worker"
        )
        if self.started:
            text += f", {len(self.started)} route(s) started"
        if self.failed:
            text += f", {len(self.failed)} route(s) failed to start"
        return text


@dataclass
class Daemon:
    table: Table
    choose: Choose
    by: str
    nouns: Collection[str] | None = None
    route: bool = True
    memory: Memory = field(default_factory=Memory)
    running: list[tuple[Run, subprocess.Popen[bytes]]] = field(default_factory=list)
    batches: int = 0

    def batch(
        self,
        files: Sequence[Path],
        *,
        initial: bool = False,
        within: Sequence[Path] | None = None,
    ) -> Batch | None:
        """One claim run over those of ``files`` that changed since they were last offered;
        None when none did (the events were the daemon's own claim writes). Edits stay under
        ``within`` (the watched PATHS; default: ``files`` themselves)."""
        changed = self.memory.changed(files)
        if not changed and not initial:
            return None
        found = collect("delegated", changed, self.nouns, within=within)
        items = [i for i in found if i.mark("task") is None]
        outcome = claim(group(items, self.table), self.choose, self.by)
        self.memory.remember(changed)
        started: list[Run] = []
        failed: list[Result] = []
        if self.route:
            for noun, claimed in outcome.claimed.items():
                for run in plan(self.table.route(noun), [i.path for i in claimed]):
                    proc = start(run)
                    if isinstance(proc, Result):
                        failed.append(proc)
                    else:
                        self.running.append((run, proc))
                        started.append(run)
        if not initial:
            self.batches += 1
        number = 0 if initial else self.batches
        return Batch(number, len(changed), len(items), outcome, started, failed)

    def reap(self) -> list[Result]:
        """Routes that ended since the last call."""
        done = [(run, proc) for run, proc in self.running if proc.poll() is not None]
        self.running = [entry for entry in self.running if entry not in done]
        return [Result(run, proc.returncode) for run, proc in done]

    def serve(
        self,
        paths: Sequence[Path],
        quiet: float,
        stop: threading.Event,
        log: Callable[[str], None],
        *,
        poll: bool = False,
    ) -> None:
        """Watch ``paths`` until ``stop`` is set, logging one line per batch (and one per route
        that ends). The first wake-up offers what is already there: items delegated while no
        daemon ran would otherwise wait for their file's next change. It runs once the watcher is
        in place, so nothing written meanwhile is missed."""
        started = False

        def idle() -> None:
            nonlocal started
            if not started:
                started = True
                first = self.batch(markdown_files(paths), initial=True, within=paths)
                log(first.describe() if first else "initial scan: nothing")
                log(f"watching {', '.join(map(str, paths))} (quiet period {quiet:g} s)")
            for result in self.reap():
                log(f"route ended: {' '.join(result.run.argv)} → exit {result.code}")

        for files in quiet_batches(paths, quiet, stop, poll=poll, idle=idle, log=log):
            if (batch := self.batch(files, within=paths)) is not None:
                log(batch.describe())
        log(f"stopped after {self.batches} batch(es)")
