"""Every fenced code block of README.md runs against a real ``ats serve``, or is skipped with why.

The blocks run in README order against one fresh server on SQLite, the way a reader would type
them: shell blocks line by line with ``bash`` (``.venv/bin/ats`` and ``ats`` are this checkout's,
``localhost:8765`` / ``127.0.0.1:8765`` become the test server, ``ATS_URL`` points at it, ``HOME``
and the working directory are fresh temporary ones), Python blocks as scripts. Every line must exit
0. Lines that follow a stream (``ats watch``, ``ats feed tail``, ``curl -N``) run with a timeout
while the test makes events happen, and must print at least one event. A Python block must print
what its ``print(...)  # expected`` comments say.

What cannot run on a bare server is in :data:`SKIP_LINES` / :data:`SKIP_BLOCKS`, each with the
reason. A block in another language, or a shell line starting with anything but ``ats``,
``.venv/bin/ats`` or ``curl``, that is on neither list fails the test — as does a skip entry that
no longer matches anything.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import running_server

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = ROOT / ".venv" / "bin"

# Substring of a shell line (with ".venv/bin/ats" written "ats", comment removed) → why skipped.
SKIP_LINES: dict[str, str] = {
    "scripts/serve": "runs scripts/bootstrap (may pip-install) and binds the fixed port 8765; "
    "this test runs the `ats serve` it execs itself",
    "scripts/test": "the whole test suite, this test included",
    "ats dispatch --channel builds --command 'claude -p'": "needs the external `claude` command",
    "ats dispatch -c docs --command 'tool": "needs an external command named `tool`",
    "ats dispatch -c hooks --http": "needs an HTTP receiver at 127.0.0.1:9000",
    "ats dispatch -c py --python mypkg.jobs:run": "needs a Python module `mypkg` of the user's",
    "ats dispatch --config examples/dispatch.toml": "the example file runs `claude -p`",
    "ats dispatch -c ci --command 'make'": "a dispatcher running `make` for every task on "
    "channel ci until stopped (the callback policy lines)",
    "ats task decrypt 42": "needs task 42 completed by a dispatcher that sealed its result",
    "ats keys approve <FP>": "needs a registration request recorded by a dispatcher (<FP>)",
    "ats delegate review": "interactive: asks per item at a terminal (without one: exit 2)",
    "ats delegate watch": "interactive daemon: asks per batch at a terminal (without one: exit 2)",
}
# First line of a block → why the whole block is skipped.
SKIP_BLOCKS: dict[str, str] = {}

RUNNABLE = ("ats", "curl")
FOLLOWING = re.compile(r"^(ats watch|ats feed tail|curl -N)\b")
EVENT_LINE = re.compile(r'^(Task #\d+: |data: \{|\{")', re.MULTILINE)
PLACEHOLDER = re.compile(r"<[A-Z_]+>")
OWN_KEY = ("<PUBKEY>", "<DISPATCHER_PUBKEY>")  # this host's public key (after `ats keys gen`)
EXPECTED = re.compile(r"print\(.*\)\s*#\s*(.+)$")
LINE_TIMEOUT = 60.0
FOLLOW_TIMEOUT = 30.0


@dataclass(frozen=True)
class Block:
    number: int  # 1-based, in README order
    line: int  # where the fence opens
    lang: str
    body: str

    @property
    def name(self) -> str:
        return f"README block {self.number} (line {self.line}, {self.lang or 'no language'})"


def blocks() -> list[Block]:
    out: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(```+|~~~+)\s*(\S*)", lines[i])
        if not fence:
            i += 1
            continue
        start, mark, lang = i, fence.group(1), fence.group(2).lower()
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(mark):
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"README line {start + 1}: unclosed code fence"
        out.append(Block(len(out) + 1, start + 1, lang, "\n".join(body)))
        i += 1
    return out


def commands(block: Block) -> Iterator[str]:
    """A shell block's commands: continuation lines joined; blank and comment lines dropped."""
    pending = ""
    for raw in block.body.splitlines():
        line = raw.strip()
        if pending:
            line = f"{pending} {line}"
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        if line and not line.startswith("#"):
            yield line
    assert not pending, f"{block.name}: a line ends with a continuation backslash"


def bare(command: str) -> str:
    """The command as matched against the skip list: ``ats …`` and no trailing comment."""
    text = command.replace(".venv/bin/ats", "ats")
    return re.sub(r"\s+#\s.*$", "", text).strip()


def skip_reason(command: str) -> str | None:
    text = bare(command)
    return next((why for key, why in SKIP_LINES.items() if key in text), None)


def classify() -> tuple[list[tuple[Block, str]], list[str], set[str]]:
    """(blocks to run with their kind, problems, skip entries used)."""
    runs: list[tuple[Block, str]] = []
    problems: list[str] = []
    used: set[str] = set()
    for block in blocks():
        first = block.body.strip().splitlines()[0].strip() if block.body.strip() else ""
        if first in SKIP_BLOCKS:
            used.add(first)
            continue
        if block.lang == "python":
            runs.append((block, "python"))
        elif block.lang in ("bash", "sh", "shell", "console"):
            for command in commands(block):
                key = next((k for k in SKIP_LINES if k in bare(command)), None)
                if key is not None:
                    used.add(key)
                elif bare(command).split()[0] not in RUNNABLE:
                    problems.append(f"{block.name}: neither runnable nor skipped: {command}")
            runs.append((block, "shell"))
        else:
            problems.append(f"{block.name}: a {block.lang or 'plain'} block not on SKIP_BLOCKS")
    return runs, problems, used


def test_every_block_runs_or_is_skipped_with_a_reason() -> None:
    runs, problems, used = classify()
    assert runs, "README.md has no code blocks?"
    stale = sorted(set(SKIP_LINES) - used) + sorted(set(SKIP_BLOCKS) - used)
    problems += [f"skip entry matches nothing in README.md any more: {key!r}" for key in stale]
    assert not problems, "\n".join(problems)


def test_readme_points_nowhere_outside_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    assert "../" not in text
    for target in re.findall(r"\]\(([^)#]+)[^)]*\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to {target}, which is not in the repo"


class Runner:
    """Runs README commands against one server, from a scratch directory."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.hostport = url.removeprefix("http://")
        self.work = tmp / "work"
        home = tmp / "home"
        for d in (self.work, home):
            d.mkdir()
        # What `ats tag …` and `ats delegate …` find in the current directory.
        (self.work / "notes").mkdir()
        (self.work / "notes" / "a.md").write_text(
            "# Fix the cache\n\n**Tags**: #delegated-fix\n\nThe cache key ignores the locale.\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATS_")}
        self.env = {
            **env,
            "ATS_URL": url,
            "HOME": str(home),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "NO_COLOR": "1",
        }
        self.failures: list[str] = []
        self.ran: list[str] = []
        self.http = httpx.Client(base_url=url, headers={"X-Actor-ID": "readme-test"}, timeout=10)

    def rewrite(self, command: str) -> str:
        text = command.replace(".venv/bin/", f"{BIN}/")
        text = text.replace("localhost:8765", self.hostport)
        text = text.replace("127.0.0.1:8765", self.hostport)
        for placeholder in OWN_KEY:
            if placeholder in text:
                text = text.replace(placeholder, self.own_public_key())
        left = PLACEHOLDER.findall(text)
        assert not left, f"no value for placeholder(s) {left} in: {command}"
        return text

    def own_public_key(self) -> str:
        out = subprocess.run(
            ["ats", "-f", "json", "keys", "list"],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.work,
            timeout=LINE_TIMEOUT,
            check=True,
        )
        key: str = json.loads(out.stdout)["identity"]["public"]
        return key

    def shell(self, block: Block) -> None:
        for command in commands(block):
            why = skip_reason(command)
            if why is not None:
                continue
            self.ran.append(command)
            if FOLLOWING.match(bare(command)):
                self.follow(block, command)
            else:
                self.once(block, command)

    def once(self, block: Block, command: str) -> None:
        try:
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", self.rewrite(command)],
                capture_output=True,
                text=True,
                env=self.env,
                cwd=self.work,
                stdin=subprocess.DEVNULL,
                timeout=LINE_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            self.failures.append(f"{block.name}: timed out after {LINE_TIMEOUT} s: {command}")
            return
        if done.returncode != 0:
            self.failures.append(
                f"{block.name}: exit {done.returncode}: {command}\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
            )

    def follow(self, block: Block, command: str) -> None:
        """A stream follower: runs until it prints an event (events are made meanwhile)."""
        out, err = self.work / "follow.out", self.work / "follow.err"
        with out.open("w") as sink, err.open("w") as errors:
            proc = subprocess.Popen(
                ["bash", "-c", f"exec {self.rewrite(command)}"],
                stdout=sink,
                stderr=errors,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.work,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + FOLLOW_TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None:
                if EVENT_LINE.search(out.read_text(errors="replace")):
                    break
                self.make_events()
                time.sleep(1.0)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        text = out.read_text(errors="replace")
        if not EVENT_LINE.search(text):
            self.failures.append(
                f"{block.name}: printed no event within {FOLLOW_TIMEOUT} s (exit "
                f"{proc.returncode}): {command}\nstdout: {text[-2000:]}\n"
                f"stderr: {err.read_text(errors='replace')[-2000:]}"
            )

    def make_events(self) -> None:
        """A task on channel ops created, claimed and completed; a finding of claude-main."""
        task = self.http.post("/tasks", json={"title": "README event", "channel": "ops"})
        task.raise_for_status()
        task_id = task.json()["id"]
        self.http.post(f"/tasks/{task_id}/claim").raise_for_status()
        self.http.post(f"/tasks/{task_id}/complete", json={"outputs": "ok"}).raise_for_status()
        self.http.post(
            "/feed/events",
            json={"agent": "claude-main", "type": "finding", "summary": "README event"},
        ).raise_for_status()

    def python(self, block: Block) -> None:
        script = self.work / f"readme_block_{block.number}.py"
        script.write_text(block.body + "\n")
        self.ran.append(f"python {script.name}")
        try:
            done = subprocess.run(
                [str(BIN / "python"), str(script)],
                capture_output=True,
                text=True,
                env=self.env,
                cwd=self.work,
                stdin=subprocess.DEVNULL,
                timeout=LINE_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            self.failures.append(f"{block.name}: timed out after {LINE_TIMEOUT} s")
            return
        if done.returncode != 0:
            self.failures.append(
                f"{block.name}: exit {done.returncode}\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-3000:]}"
            )
            return
        expected = [m.group(1).strip() for m in map(EXPECTED.search, block.body.splitlines()) if m]
        if not expected:
            self.failures.append(f"{block.name}: no `print(...)  # expected output` to check")
        for text in expected:
            if text not in done.stdout:
                self.failures.append(
                    f"{block.name}: expected {text!r} on stdout, got: {done.stdout[-2000:]}"
                )


@pytest.mark.timeout(600)
def test_readme_code_runs_against_a_real_server(tmp_path: Path) -> None:
    runs, problems, _ = classify()
    assert not problems, "\n".join(problems)
    db = f"sqlite:///{tmp_path}/ats.db"
    with running_server(db, "--reaper-interval", "0.2", log=tmp_path / "server.log") as url:
        runner = Runner(url, tmp_path)
        try:
            for block, kind in runs:
                if kind == "python":
                    runner.python(block)
                else:
                    runner.shell(block)
        finally:
            runner.http.close()
    assert runner.ran, "nothing in README.md ran"
    assert not runner.failures, "\n\n".join(runner.failures)
