"""A killed server loses nothing it acknowledged (SPEC §10): one round of what the fault tier
(tests/faults/test_kill.py) does many times over."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import Server, check_creates
from tests.faults.load import client, until_killed


async def test_sigkill_mid_load_loses_no_acknowledged_task(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, tmp_path).start()
    tally = await until_killed(server, lambda w, n: ("/tasks", {"title": f"w{w}-{n}"}))
    assert len(tally.acked) > 50
    server.start()
    try:
        async with client(server.url) as c:
            await check_creates(c, list(tally.acked.values()))
    finally:
        server.stop()
