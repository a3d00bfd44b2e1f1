"""``ats delegate watch``: a real daemon process, real files, inotify (or polling)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ats.tags import watch as watch_module

from .delegate_fixtures import Terminal, delegate_argv, wait_for, write


class Daemon:
    def __init__(self, tree: Path, *argv: str) -> None:
        self.log = tree.parent / "watch.log"
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(
            delegate_argv("watch", *argv),
            cwd=tree,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: "watching " in self.text(), what="the daemon to watch")

    def text(self) -> str:
        return self.log.read_text()

    def batches(self) -> list[str]:
        return [line for line in self.text().splitlines() if " batch " in line]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(10)
        finally:
            self._log.close()


@pytest.fixture
def sessions(tree: Path) -> Path:
    (tree / "sessions").mkdir()
    return tree / "sessions"


@pytest.fixture(params=["inotify", "poll"])
def daemon(request: pytest.FixtureRequest, tree: Path, sessions: Path) -> Iterator[Daemon]:
    extra = ["--poll"] if request.param == "poll" else []
    d = Daemon(tree, "--yes", "--no-route", "--quiet-period", "1", "--by", "bot", *extra)
    try:
        yield d
    finally:
        d.stop(signal.SIGKILL)


def test_a_burst_of_twenty_files_is_one_batch(daemon: Daemon, sessions: Path) -> None:
    start = time.monotonic()
    for n in range(20):
        write(sessions / f"f{n:02}.md", f"# Item {n}\n**Tags**: #delegated-fix\n\nFix {n}.\n")
        time.sleep(0.05)
    assert time.monotonic() - start < 2
    wait_for(lambda: bool(daemon.batches()), what="a batch")
    time.sleep(2.5)  # two more quiet periods: nothing else may come (our own writes included)

    assert len(daemon.batches()) == 1, daemon.text()
    assert "batch 1: 20 file(s) changed, 20 offered, 20 claimed, 0 skipped" in daemon.batches()[0]
    for path in sessions.iterdir():
        assert "#claimed-fix <!-- ats:claimed-fix by=bot at=" in path.read_text()
    assert daemon.stop() == 0
    assert "stopped after 1 batch(es)" in daemon.text()


def test_a_skipped_item_is_offered_again_only_when_its_file_changes(
    daemon: Daemon, sessions: Path
) -> None:
    review = write(sessions / "r.md", "# R\n**Tags**: #delegated-review\n")
    wait_for(lambda: len(daemon.batches()) == 1, what="batch 1")
    assert "1 offered, 0 claimed, 1 skipped" in daemon.batches()[0]

    other = write(sessions / "other.md", "# O\n**Tags**: #delegated-chores\n")
    wait_for(lambda: len(daemon.batches()) == 2, what="batch 2")
    assert "batch 2: 1 file(s) changed, 1 offered, 1 claimed, 0 skipped" in daemon.batches()[1]
    assert "#claimed-chores" in other.read_text()
    time.sleep(2)
    assert len(daemon.batches()) == 2  # r.md did not change: not offered again

    os.utime(review)  # touched: a person asks for another look
    wait_for(lambda: len(daemon.batches()) == 3, what="batch 3")
    assert "1 offered, 0 claimed, 1 skipped" in daemon.batches()[2]

    review.write_text("# R\n**Tags**: #delegated-review\n\nNow with details.\n")
    wait_for(lambda: len(daemon.batches()) == 4, what="batch 4")
    assert "1 offered, 0 claimed, 1 skipped" in daemon.batches()[3]
    assert "#delegated-review" in review.read_text()
    assert daemon.stop(signal.SIGINT) == 0


def test_items_present_at_start_are_offered_once(tree: Path, sessions: Path) -> None:
    write(sessions / "old.md", "# Old\n**Tags**: #delegated-loop #delegated-rework\n")
    d = Daemon(tree, "--yes", "--no-route", "--quiet-period", "0.5", "--tags", "loop,rework")
    try:
        assert "initial scan: 1 file(s), 2 offered, 1 claimed, 1 skipped" in d.text()
        time.sleep(1.5)
        assert d.batches() == []
    finally:
        assert d.stop() == 0
    assert "#claimed-loop" in (sessions / "old.md").read_text()


def test_watch_without_terminal_or_yes_refuses(tree: Path, sessions: Path) -> None:
    done = subprocess.run(
        delegate_argv("watch"), cwd=tree, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "ats delegate: no terminal to ask: use --yes"


def test_routes_run_in_the_background_and_are_logged_when_they_end(
    tree: Path, sessions: Path
) -> None:
    script = write(
        tree / "route.py", "import sys, pathlib\npathlib.Path(sys.argv[1] + '.done').touch()\n"
    )
    write(
        tree / ".ats/delegation.toml",
        f"[nouns.fix]\ncommand = '{sys.executable} {script} {{file}}'\n",
    )
    d = Daemon(tree, "--yes", "--quiet-period", "0.5")
    try:
        write(sessions / "a.md", "# A\n**Tags**: #delegated-fix\n")
        wait_for(lambda: "route ended:" in d.text(), what="the route to end")
        assert "batch 1: 1 file(s) changed, 1 offered, 1 claimed, 0 skipped" in d.text()
        assert "1 route(s) started" in d.text()
        assert f"route ended: {sys.executable} {script} sessions/a.md → exit 0" in d.text()
        assert (sessions / "a.md.done").exists()
    finally:
        assert d.stop() == 0


def test_interactive_watch_declined_items_wait_for_their_file_to_change(
    tree: Path, sessions: Path
) -> None:
    path = write(sessions / "keep.md", "# Keep\n**Tags**: #notes\n")
    term = Terminal(tree)
    try:
        term.start(delegate_argv("watch", "--no-route", "--quiet-period", "0.5", "--by", "me"))
        term.wait_for("watching sessions")
        path.write_text("# Keep\n**Tags**: #delegated-fix\n\nPlease fix.\n")
        screen = term.wait_for("Claim [a]ll, [c]hoose or [s]kip?")
        assert "1. sessions/keep.md:2  Keep — Please fix." in screen
        term.type("s")
        term.wait_for("batch 1: 1 file(s) changed, 1 offered, 0 claimed, 1 skipped")
        time.sleep(1.5)
        assert term.screen().count("Claim [a]ll") == 1  # declined: not asked again
        path.write_text("# Keep\n**Tags**: #delegated-fix\n\nPlease fix. Now urgent.\n")
        wait_for(lambda: term.screen().count("Claim [a]ll") == 2, what="the second offer")
        term.type("a")
        term.wait_for("batch 2: 1 file(s) changed, 1 offered, 1 claimed")
        term.keys("C-c")
        screen = term.wait_for("EXIT=")
    finally:
        term.close()
    assert "EXIT=0" in screen and "stopped after 2 batch(es)" in screen
    assert "#claimed-fix <!-- ats:claimed-fix by=me at=" in path.read_text()


def test_without_inotify_it_falls_back_to_polling(
    monkeypatch: pytest.MonkeyPatch, sessions: Path
) -> None:
    real = watch_module.watch
    modes: list[bool] = []

    def watch(*paths: Any, force_polling: bool, **kwargs: Any) -> Iterator[Any]:
        modes.append(force_polling)
        if not force_polling:
            raise OSError("OS file watch limit reached")
        yield from real(*paths, force_polling=True, **kwargs)

    monkeypatch.setattr(watch_module, "watch", watch)
    stop = threading.Event()
    lines: list[str] = []
    batches = watch_module.quiet_batches([sessions], 0.3, stop, idle=lambda: None, log=lines.append)
    threading.Timer(0.5, write, (sessions / "a.md", "# A\n")).start()
    first = next(batches)
    stop.set()
    assert first == [sessions / "a.md"]
    assert modes == [False, True]
    assert lines == [
        "file notifications unavailable (OS file watch limit reached); polling instead"
    ]
