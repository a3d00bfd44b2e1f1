"""``ats dispatch`` end to end: a real server (SQLite and PostgreSQL), real dispatcher processes,
real children. Each test is one line of the issue's acceptance list or a rule of SPEC §6."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ats import AsyncClient
from ats.models import Status

from .bots import SUBMITTER, dispatcher, until, wait_status
from .receiver import Received, Receiver

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def ats(server_url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server_url, SUBMITTER) as client:
        yield client


async def received(receiver: Receiver, count: int, within: float = 10.0) -> list[Received]:
    await until(lambda: len(receiver.requests) >= count, within, f"{count} requests")
    return receiver.requests


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


async def test_command_gets_the_prompt_and_its_output_completes_the_task(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    env_dump = tmp_path / "env.txt"
    cmd = script(
        tmp_path,
        "work.sh",
        f'echo "$ATS_TASK_ID $ATS_CHANNEL $ATS_URL" > {env_dump}; echo "argv: $1"; cat',
    )
    async with dispatcher(
        server_url, "-c", "w1", "--command", f"{cmd} {{title}}", log=tmp_path / "d.log"
    ) as bot:
        task = await ats.create_task(
            "Summarise it",
            channel="w1",
            description="Two lines.",
            payload={"doc": "a.md", "callback_url": "http://127.0.0.1:9/none", "quiet": True},
        )
        done = await wait_status(ats, task.id, Status.COMPLETED)
        assert done.outputs == [
            'argv: Summarise it\nSummarise it\n\nTwo lines.\n\n{\n  "doc": "a.md"\n}'
        ]
        assert env_dump.read_text().split() == [str(task.id), "w1", server_url]
        # The next task is picked up from the event stream, not by a poll (5 s backstop).
        start = time.monotonic()
        second = await ats.create_task("Second", channel="w1")
        await wait_status(ats, second.id, Status.COMPLETED)
        assert time.monotonic() - start < 2.0
        claimed = await bot.wait_log("claimed", task_id=second.id)
        assert claimed["level"] == "info" and "ts" in claimed
        assert await bot.stop() == 0


async def test_a_command_that_always_fails_gets_three_attempts_across_restarts(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    cmd = script(tmp_path, "fail.sh", "echo 'broken pipe dream' >&2; exit 3")
    args = ("-c", "f", "--command", cmd, "--retry-backoff", "0.2")
    task = await ats.create_task("Doomed", channel="f")
    for attempt in (1, 2):
        # A fresh dispatcher each time: the count lives on the server.
        async with dispatcher(server_url, *args, log=tmp_path / f"d{attempt}.log") as bot:
            await bot.wait_log("retrying", task_id=task.id)
            assert await bot.stop() == 0
        again = await ats.get_task(task.id)
        assert again.status is Status.PENDING and again.attempts == attempt
        assert "exit 3: broken pipe dream" in (again.reason or "")
    async with dispatcher(server_url, *args, log=tmp_path / "d3.log") as bot:
        failed = await wait_status(ats, task.id, Status.FAILED)
        assert failed.attempts == 3
        assert failed.reason is not None
        assert failed.reason.startswith("Exceeded max retry attempts (3)")
        assert "broken pipe dream" in failed.reason
        await asyncio.sleep(0.5)  # nothing claims it again
        assert (await ats.get_task(task.id)).attempts == 3
        assert await bot.stop() == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent reaps it).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


async def test_sigterm_stops_the_child_and_releases_the_task_at_once(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    # The child ignores nothing but spawns a grandchild: the whole group must go.
    cmd = script(tmp_path, "long.sh", f"sleep 60 & echo $! > {pid_file}; wait")
    async with dispatcher(
        server_url, "-c", "s", "--command", cmd, "--kill-grace", "2", log=tmp_path / "d.log"
    ) as bot:
        task = await ats.create_task("Long job", channel="s")
        await wait_status(ats, task.id, Status.IN_PROGRESS)
        await until(lambda: pid_file.exists() and bool(pid_file.read_text().strip()))
        grandchild = int(pid_file.read_text())
        started = time.monotonic()
        assert await bot.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 2.0 + 3.0
        assert not _alive(grandchild)
        back = await ats.get_task(task.id)
        assert back.status is Status.PENDING
        assert back.reason == "dispatcher shutting down"
        assert back.attempts == 0  # a shutdown is not an attempt


async def test_leave_leases_lets_the_lease_expire_instead(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    cmd = script(tmp_path, "long.sh", "exec sleep 60")
    args = ("-c", "s", "--command", cmd, "--lease", "1500", "--leave-leases")
    async with dispatcher(server_url, *args, log=tmp_path / "d.log") as bot:
        task = await ats.create_task("Long job", channel="s")
        await wait_status(ats, task.id, Status.IN_PROGRESS)
        assert await bot.stop(signal.SIGINT) == 0
    held = await ats.get_task(task.id)
    assert held.status is Status.IN_PROGRESS  # still leased: nobody released it
    expired = await wait_status(ats, task.id, Status.PENDING, within=10)
    assert expired.status is Status.PENDING  # never failed


async def test_timeout_kills_the_work_and_reports_the_reason(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    args = ("-c", "t", "--command", "sleep 30", "--timeout", "1", "--max-attempts", "1")
    async with dispatcher(server_url, *args, "--kill-grace", "1", log=tmp_path / "d.log") as bot:
        task = await ats.create_task("Sleeper", channel="t")
        started = time.monotonic()
        failed = await wait_status(ats, task.id, Status.FAILED)
        assert time.monotonic() - started < 10
        assert failed.reason == "Exceeded max retry attempts (1): timed out after 1s"
        assert await bot.stop() == 0


async def test_timeout_with_attempts_left_is_retried(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    args = ("-c", "t", "--command", "sleep 30", "--timeout", "1", "--retry-backoff", "30")
    async with dispatcher(server_url, *args, log=tmp_path / "d.log") as bot:
        task = await ats.create_task("Sleeper", channel="t")
        record = await bot.wait_log("retrying", task_id=task.id)
        assert "timed out after 1s" in record["reason"]
        back = await ats.get_task(task.id)
        assert back.status is Status.PENDING and back.attempts == 1
        assert await bot.stop() == 0


async def test_two_dispatchers_run_each_of_200_tasks_exactly_once(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    ran.mkdir()
    # One file per run, named by task and dispatcher: a second run of a task would show up.
    cmd = script(tmp_path, "mark.sh", f'touch "{ran}/$ATS_TASK_ID.$$"')
    common = ("-c", "many", "--command", cmd, "--concurrency", "4")
    async with (
        dispatcher(server_url, *common, log=tmp_path / "a.log") as a,
        dispatcher(server_url, *common, log=tmp_path / "b.log") as b,
    ):
        created = await ats.bulk_create([{"title": f"t{i}", "channel": "many"} for i in range(200)])
        ids = {t.id for t in created}
        async with asyncio.timeout(90):
            while True:
                page = await ats.list_tasks(channel="many", status="completed", limit=1000)
                if page.count == 200:
                    break
                await asyncio.sleep(0.2)
        assert await a.stop() == 0 and await b.stop() == 0
    runs = sorted(p.name.split(".")[0] for p in ran.iterdir())
    assert len(runs) == 200
    assert {int(r) for r in runs} == ids
    per_bot = [len(a.messages("completed")), len(b.messages("completed"))]
    assert sum(per_bot) == 200
    page = await ats.list_tasks(channel="many", limit=1000)
    assert all(t.attempts == 1 for t in page.tasks)


async def test_a_crash_loop_ends_failed_at_max_attempts(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    """A worker killed mid-task every time: leases expire; the fourth claim fails the task."""
    cmd = script(tmp_path, "long.sh", "exec sleep 60")
    args = ("-c", "crash", "--command", cmd, "--lease", "1000", "--max-attempts", "2")
    task = await ats.create_task("Crashes the worker", channel="crash")
    for attempt in (1, 2):
        async with dispatcher(server_url, *args, log=tmp_path / f"d{attempt}.log") as bot:
            await bot.wait_log("claimed", task_id=task.id, attempt=attempt)
            await bot.stop(signal.SIGKILL)
        await wait_status(ats, task.id, Status.PENDING, within=10)  # the lease expired
    async with dispatcher(server_url, *args, log=tmp_path / "d3.log") as bot:
        failed = await wait_status(ats, task.id, Status.FAILED)
        assert failed.reason == "Exceeded max retry attempts (2)"
        assert await bot.stop() == 0


async def test_a_task_cancelled_while_it_runs_stops_its_child(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    cmd = script(tmp_path, "long.sh", f"echo $$ > {pid_file}; exec sleep 60")
    async with dispatcher(server_url, "-c", "c", "--command", cmd, log=tmp_path / "d.log") as bot:
        task = await ats.create_task("Cancel me", channel="c")
        await wait_status(ats, task.id, Status.IN_PROGRESS)
        await until(lambda: pid_file.exists() and bool(pid_file.read_text().strip()))
        child = int(pid_file.read_text())
        await ats.cancel(task.id)
        await bot.wait_log("stopping work", task_id=task.id)
        await until(lambda: not _alive(child), 15, "the child to exit")
        # Free again: the next task runs.
        nxt = await ats.create_task("Next", channel="c")
        await wait_status(ats, nxt.id, Status.IN_PROGRESS, Status.COMPLETED)
        assert (await ats.get_task(task.id)).status is Status.CANCELLED
        assert await bot.stop() == 0


async def test_leases_are_renewed_with_a_heartbeat_message(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    args = ("-c", "hb", "--command", "sleep 2.5", "--lease", "1000")
    async with dispatcher(server_url, *args, log=tmp_path / "d.log") as bot:
        task = await ats.create_task("Slow", channel="hb")
        done = await wait_status(ats, task.id, Status.COMPLETED)
        assert done.attempts == 1  # the 1 s lease never expired: it was renewed every 0.25 s
        messages = await ats.list_messages(task.id)
        beats = [m for m in messages if "heartbeat" in m.parts[0]["content"]]
        assert len(beats) >= 3
        assert await bot.stop() == 0


async def test_the_python_executor_calls_sync_and_async_functions(
    ats: AsyncClient, server_url: str, tmp_path: Path, isolated: Path
) -> None:
    (isolated / "jobs.py").write_text(
        "import asyncio\n"
        "def shout(task):\n"
        "    return {'text': task['title'].upper(), 'n': task['payload'].get('n')}\n"
        "async def later(task):\n"
        "    await asyncio.sleep(0.01)\n"
        "    if task['payload'].get('boom'):\n"
        "        raise RuntimeError('boom requested')\n"
        "    return [task['id']]\n"
    )
    async with dispatcher(
        server_url, "-c", "py", "--python", "jobs:shout", log=tmp_path / "a.log"
    ) as bot:
        task = await ats.create_task("quiet please", channel="py", payload={"n": 2})
        done = await wait_status(ats, task.id, Status.COMPLETED)
        assert done.outputs == [{"text": "QUIET PLEASE", "n": 2}]
        assert await bot.stop() == 0
    args = ("-c", "py2", "--python", "jobs:later", "--max-attempts", "1")
    async with dispatcher(server_url, *args, log=tmp_path / "b.log") as bot:
        ok = await ats.create_task("fine", channel="py2")
        bad = await ats.create_task("bad", channel="py2", payload={"boom": True})
        assert (await wait_status(ats, ok.id, Status.COMPLETED)).outputs == [ok.id]
        failed = await wait_status(ats, bad.id, Status.FAILED)
        assert failed.reason == "Exceeded max retry attempts (1): RuntimeError: boom requested"
        assert await bot.stop() == 0


async def test_the_http_executor_posts_the_task_and_keeps_the_answer(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    async with (
        Receiver(200) as receiver,
        dispatcher(
            server_url, "-c", "h", "--http", f"{receiver.url}/run", log=tmp_path / "d.log"
        ) as bot,
    ):
        task = await ats.create_task("Over HTTP", channel="h", payload={"k": "v"})
        done = await wait_status(ats, task.id, Status.COMPLETED)
        (request,) = await received(receiver, 1)
        body = request.json()
        assert request.path == "/run"
        assert body["id"] == task.id and body["title"] == "Over HTTP"
        assert body["payload"] == {"k": "v"}
        assert done.outputs == [{"ok": True}]
        assert await bot.stop() == 0


async def test_callback_is_retried_and_signed(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    import hashlib
    import hmac
    import json

    async with Receiver(500, 500, 200) as receiver:
        env = {"ATS_CALLBACK_SECRET": "s3cret"}
        # The receiver is on 127.0.0.1: allowed only because the operator says so.
        args = ("-c", "cb", "--command", "echo done", "--allow-private-callbacks")
        async with dispatcher(server_url, *args, env=env, log=tmp_path / "d.log") as bot:
            task = await ats.create_task(
                "Call me back", channel="cb", payload={"callback_url": f"{receiver.url}/hook"}
            )
            requests = await received(receiver, 3, within=30)
            last = requests[-1]
            body = json.loads(last.body)
            assert set(body) == {"task_id", "status", "result", "completed_at"}
            assert body["task_id"] == task.id and body["status"] == "completed"
            assert body["result"] == ["done"]
            expected = hmac.new(b"s3cret", last.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(last.headers["x-ats-signature"], f"sha256={expected}")
            assert await bot.stop() == 0


async def test_a_callback_to_a_private_address_is_refused_and_logged(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    """A task must not make the dispatcher call what only its host can reach (127.0.0.1 here,
    a metadata service or the private network elsewhere), nor copy the answer into its log."""
    log = tmp_path / "d.log"
    async with Receiver(200, body=b'{"internal":"answer-from-inside"}') as receiver:
        args = ("-c", "ssrf", "--command", "echo done")
        async with dispatcher(server_url, *args, log=log) as bot:
            assert bot.messages("dispatcher started")[0]["callbacks"] == "public addresses only"
            task = await ats.create_task(
                "Call home",
                channel="ssrf",
                payload={"callback_url": f"{receiver.url}/admin?token=s3cr3t"},
            )
            done = await wait_status(ats, task.id, Status.COMPLETED)
            assert done.outputs == ["done"]  # the task itself is not punished
            refused = await bot.wait_log(
                "callback refused: destination not allowed", task_id=task.id
            )
            assert await bot.stop() == 0
    assert receiver.requests == []
    assert refused["level"] == "error"
    assert refused["url"] == f"{receiver.url}/admin"
    assert "127.0.0.1" in refused["why"] and "loopback" in refused["why"]
    assert len(bot.messages("callback refused: destination not allowed")) == 1  # no retries
    text = log.read_text()
    assert "s3cr3t" not in text and "answer-from-inside" not in text


async def test_a_title_read_as_an_option_fails_the_task_unless_after_a_double_dash(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    tool = script(tmp_path, "tool.sh", 'printf "%s|" "$@"')
    unsafe = ("-c", "unsafe", "--command", f"{tool} {{title}} --fixed")
    safe = ("-c", "safe", "--command", f"{tool} --fixed -- {{title}}")
    async with (
        dispatcher(server_url, *unsafe, log=tmp_path / "a.log") as a,
        dispatcher(server_url, *safe, log=tmp_path / "b.log") as b,
    ):
        bad = await ats.create_task("--config=/etc/passwd", channel="unsafe")
        failed = await wait_status(ats, bad.id, Status.FAILED)
        assert failed.attempts == 1  # not retried: running it again cannot help
        assert failed.reason is not None
        assert failed.reason.startswith(
            "refused to run: {title} made argument 1 start with '-', so the command would "
            "read it as an option; put the placeholder after a literal -- "
        )
        assert failed.reason.endswith(": --config=/etc/passwd")
        ok = await ats.create_task("--config=/etc/passwd", channel="safe")
        done = await wait_status(ats, ok.id, Status.COMPLETED)
        assert done.outputs == ["--fixed|--|--config=/etc/passwd|"]
        assert await a.stop() == 0 and await b.stop() == 0


async def test_named_limits_hold_a_class_to_its_own_concurrency(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    lock = tmp_path / "gpu.lock"
    # Fails (exit 9) if another gpu task holds the lock: two at once would show up as a retry.
    gpu = script(tmp_path, "gpu.sh", f"mkdir {lock} || exit 9; sleep 0.3; rmdir {lock}")
    config = tmp_path / "d.toml"
    config.write_text(f'[executor]\ncommand = "{gpu}"\n[limits]\ngpu = 1\n')
    args = ("-c", "lim", "--config", str(config), "--concurrency", "4", "--max-attempts", "1")
    async with dispatcher(server_url, *args, log=tmp_path / "d.log") as bot:
        tasks = [await ats.create_task(f"g{i}", channel="lim", type="gpu") for i in range(3)]
        started = time.monotonic()
        for task in tasks:
            done = await wait_status(ats, task.id, Status.COMPLETED, Status.FAILED)
            assert done.status is Status.COMPLETED, done.reason
        assert time.monotonic() - started >= 0.85  # one after another
        assert await bot.stop() == 0


async def test_telegram_and_webhook_hear_about_ended_tasks_unless_quiet(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    async with Receiver() as receiver:
        env = {
            "ATS_TELEGRAM_TOKEN": "123:abc",
            "ATS_TELEGRAM_CHAT_ID": "42",
            "ATS_TELEGRAM_API": receiver.url,
            "ATS_WEBHOOK_URL": f"{receiver.url}/hook",
        }
        args = ("-c", "n", "--command", "echo ok")
        async with dispatcher(server_url, *args, env=env, log=tmp_path / "d.log") as bot:
            quiet = await ats.create_task("Hush", channel="n", payload={"quiet": True})
            await wait_status(ats, quiet.id, Status.COMPLETED)
            loud = await ats.create_task("Shout", channel="n")
            await wait_status(ats, loud.id, Status.COMPLETED)
            requests = await received(receiver, 2)
            await asyncio.sleep(0.3)  # nothing else arrives (the quiet task sent nothing)
            assert await bot.stop() == 0
    by_path = {r.path: r.json() for r in receiver.requests}
    assert len(receiver.requests) == 2 == len(requests)
    telegram = by_path["/bot123:abc/sendMessage"]
    assert telegram["chat_id"] == "42" and f"#{loud.id}" in telegram["text"]
    hook = by_path["/hook"]
    assert hook["event"] == "task.completed" and hook["task"]["id"] == loud.id


async def test_tasks_claimed_ahead_go_back_when_the_work_gets_long(
    ats: AsyncClient, server_url: str, tmp_path: Path
) -> None:
    """Short work makes the dispatcher claim a buffer ahead; when a long task holds the only
    slot, the buffered tasks are handed back (attempt not counted) instead of waiting."""
    work = script(tmp_path, "work.sh", 'case "$1" in long) exec sleep 30;; esac')
    config = tmp_path / "d.toml"
    config.write_text(f'poll_interval = 0.5\n[executor]\ncommand = "{work} {{title}}"\n')
    args = ("-c", "pf", "--config", str(config), "--concurrency", "1")
    async with dispatcher(server_url, *args, log=tmp_path / "d.log") as bot:
        for i in range(4):
            warm = await ats.create_task(f"short{i}", channel="pf")
            await wait_status(ats, warm.id, Status.COMPLETED)
        batch = await ats.bulk_create(
            [{"title": "long", "channel": "pf", "priority": 9}]
            + [{"title": f"after{i}", "channel": "pf"} for i in range(3)]
        )
        await wait_status(ats, batch[0].id, Status.IN_PROGRESS)
        for task in batch[1:]:
            back = await wait_status(ats, task.id, Status.PENDING, within=15)
            assert back.attempts == 0
        handed = {r["task_id"] for r in bot.messages("handed back")}
        # Room for the slot plus a buffer of 2 x concurrency: the long task and two others.
        assert len(handed) == 2 and handed <= {t.id for t in batch[1:]}
        for task_id in handed:
            assert (await ats.get_task(task_id)).reason == "waited too long for a free slot"
        await asyncio.sleep(1.5)  # not claimed again while the long task holds the slot
        for task in batch[1:]:
            assert (await ats.get_task(task.id)).status is Status.PENDING
        assert await bot.stop() == 0
    assert (await ats.get_task(batch[0].id)).status is Status.PENDING
