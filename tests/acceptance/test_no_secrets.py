"""No secret reaches any output: a real server, a real dispatcher and the CLI with ``-v``, all
given credentials, with every byte they print (stdout, stderr, logs) searched for them.

The secrets: a PostgreSQL password, a password in the ATS URL, a query-string token on the HTTP
executor's and a callback's URL, and a bearer token (``ATS_TOKEN``, and an ``Authorization``
header sent to the server).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from ats import AsyncClient
from ats.models import Status
from tests.dispatch.bots import SUBMITTER, until, wait_status
from tests.dispatch.receiver import Receiver

pytestmark = pytest.mark.timeout(180)

ATS = [sys.executable, "-m", "ats"]
PG_PASSWORD = "pgPw-7f3a9"
URL_PASSWORD = "urlPw-c41d"
QUERY_SECRET = "s3cr3t"
BEARER = "ats_" + "k9" * 21 + "Z"  # ats_ + 43 url-safe characters, like a real token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user.partition(':')[0]}:{password}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _run(*argv: str, env: dict[str, str], out: Path) -> int:
    """Run ``ats …`` to completion with stdout and stderr appended to ``out``."""
    with out.open("ab") as sink:
        return subprocess.run(
            [*ATS, *argv], env=env, stdout=sink, stderr=sink, timeout=60, check=False
        ).returncode


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """A folder where every process writes everything it prints."""
    folder = tmp_path / "outputs"
    folder.mkdir()
    return folder


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ATS_")}
    return {**clean, "HOME": str(home), "ATS_TOKEN": BEARER}


@pytest.fixture
def server(db_url: str, outputs: Path, env: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """A real ``ats serve`` (on each backend) whose database URL carries a password when it is
    PostgreSQL; yields its URL and the secrets given to it."""
    secrets: list[str] = []
    if db_url.startswith("postgresql"):
        db_url = _with_password(db_url, PG_PASSWORD)  # the test server trusts local connections
        secrets.append(PG_PASSWORD)
    port = _free_port()
    with (outputs / "server.txt").open("ab") as sink:
        proc = subprocess.Popen(
            [*ATS, "serve", "--port", str(port), "--database", db_url],
            env=env,
            stdout=sink,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (outputs / "server.txt").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "ats serve did not start"
            time.sleep(0.1)
        yield url, secrets
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _everything_printed(outputs: Path) -> dict[str, str]:
    return {p.name: p.read_text(errors="replace") for p in outputs.iterdir()}


async def test_no_output_anywhere_contains_a_secret(
    server: tuple[str, list[str]], outputs: Path, env: dict[str, str], tmp_path: Path
) -> None:
    url, secrets = server
    secrets = [*secrets, URL_PASSWORD, QUERY_SECRET, BEARER]
    with_password = url.replace("http://", f"http://me:{URL_PASSWORD}@")

    # 1. A server that cannot reach its database says so, without the password.
    dead = f"postgresql://ats:{PG_PASSWORD}@127.0.0.1:{_free_port()}/ats?password={PG_PASSWORD}"
    code = _run("serve", "--port", "0", "--database", dead, env=env, out=outputs / "dead.txt")
    assert code != 0
    assert "cannot connect to PostgreSQL" in (outputs / "dead.txt").read_text()

    # 2. A dispatcher with an HTTP executor whose URL holds a token, talking to a server whose URL
    #    holds a password; a task whose callback holds a token and leads to 127.0.0.1.
    async with Receiver(body=b'{"internal":"answer-9z"}') as receiver:
        log = outputs / "dispatcher.txt"
        with log.open("ab") as sink:
            bot = await asyncio.create_subprocess_exec(
                *ATS,
                "dispatch",
                "-c",
                "secrets",
                "--http",
                f"{receiver.url}/run?token={QUERY_SECRET}",
                "--max-attempts",
                "1",
                env={**env, "ATS_URL": with_password},
                stdout=sink,
                stderr=sink,
            )
        try:
            await until(lambda: "listening for events" in log.read_text(), 30, "the dispatcher")
            async with AsyncClient(url, SUBMITTER) as ats:
                task = await ats.create_task(
                    "Uses secrets",
                    channel="secrets",
                    payload={"callback_url": f"{receiver.url}/cb?token={QUERY_SECRET}"},
                )
                await wait_status(ats, task.id, Status.COMPLETED)
            await until(lambda: "callback refused" in log.read_text(), 10, "the refusal")
        finally:
            bot.terminate()
            await bot.wait()
        assert [r.path for r in receiver.requests] == [f"/run?token={QUERY_SECRET}"]

    # 3. The CLI with -v, against the live server and a dead one, with a password in --url.
    cli = outputs / "cli.txt"
    _run("-v", "--url", with_password, "list", "--status", "pending", env=env, out=cli)
    # (Not ``get`` of that task: its payload, callback URL included, is the data asked for.)
    _run("-v", "--url", with_password, "get", str(task.id + 1000), env=env, out=cli)
    dead_url = f"http://me:{URL_PASSWORD}@127.0.0.1:{_free_port()}/?token={QUERY_SECRET}"
    assert _run("-v", "--url", dead_url, "get", "1", env=env, out=cli) != 0

    # 4. A request that carries the bearer token in its Authorization header.
    async with httpx.AsyncClient(timeout=10) as http:
        await http.get(f"{url}/tasks", headers={"Authorization": f"Bearer {BEARER}"})

    printed = _everything_printed(outputs)
    # The outputs are not empty: each part ran and said something.
    assert "ats serve:" in printed["server.txt"]
    assert "> GET http://me:***@127.0.0.1" in printed["cli.txt"]
    records = [
        json.loads(line) for line in printed["dispatcher.txt"].splitlines() if line[:1] == "{"
    ]
    started = next(r for r in records if r["msg"] == "dispatcher started")
    assert started["executor"] == f"http {receiver.url}/run?token=***"
    refused = next(r for r in records if r["msg"].startswith("callback refused"))
    assert refused["url"] == f"{receiver.url}/cb"
    leaks = [(name, s) for name, text in printed.items() for s in secrets if s in text]
    assert leaks == []
    assert "answer-9z" not in printed["dispatcher.txt"]  # what the receiver said is not logged
