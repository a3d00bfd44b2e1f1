"""Helpers for the ``ats delegate`` tests: tagged files, real processes, a tmux terminal."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

CLAIM_MARK = re.compile(r"<!-- ats:claimed-([a-z-]+) by=(\S+) at=(\S+) -->")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def request(tree: Path, name: str, noun: str = "implementation", topic: str = "") -> Path:
    """A REQUEST file tagged ``#delegated-NOUN`` on its Tags line."""
    topic = topic or f"Build {name}"
    return write(
        tree / "sessions" / f"REQUEST-{name}.md",
        f"# Request: {name}\n**Tags**: #delegated-{noun}\n\n"
        f"**Topic**: {topic}\n**Context**: context of {name}\n"
        f"**Expectations**: tests for {name}\n",
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def ats_argv(*argv: str) -> list[str]:
    return [sys.executable, "-m", "ats", *argv]


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Terminal:
    """A real terminal (tmux on its own socket) running one command; the test types into it."""

    def __init__(self, cwd: Path) -> None:
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed")
        self.socket = f"ats-delegate-{uuid.uuid4().hex[:8]}"
        self.cwd = cwd
        self.socket_path = ""

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return done.stdout

    def start(self, argv: list[str]) -> None:
        # A new tmux server inherits this process's environment (HOME, no ATS_*: see conftest).
        line = " ".join(shlex.quote(a) for a in argv)
        # The pane stays after the command ends, so its last words can still be read.
        script = f"cd {shlex.quote(str(self.cwd))} && {line}; echo EXIT=$?; sleep 60"
        self._tmux("new-session", "-d", "-s", "T", "-x", "200", "-y", "50", script)
        self.socket_path = self._tmux("display-message", "-p", "#{socket_path}").strip()

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-200")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        wait_for(lambda: text in self.screen(), timeout, repr(text))
        return self.screen()

    def type(self, *keys: str) -> None:
        for key in keys:
            self._tmux("send-keys", "-t", "T", key, "Enter")

    def keys(self, *keys: str) -> None:
        """Send keys as they are (``C-c``), without Enter."""
        self._tmux("send-keys", "-t", "T", *keys)

    def close(self) -> None:
        self._tmux("kill-server")
        if self.socket_path:  # the server is gone; its socket file would stay behind
            Path(self.socket_path).unlink(missing_ok=True)


def delegate_argv(*argv: str) -> list[str]:
    """The argv of a real ``ats delegate …`` process."""
    return ats_argv("delegate", *argv)


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


def delegate(
    cwd: Path,
    *argv: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Done:
    """Run ``ats delegate ARGV`` as its own process in ``cwd`` (stdin: a pipe, never a TTY)."""
    done = subprocess.run(
        delegate_argv(*argv),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Done(done.returncode, done.stdout, done.stderr)
