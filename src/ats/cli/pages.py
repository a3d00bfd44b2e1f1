"""``ats list --all-pages``: every page, printed as it arrives.

Pages follow the server's ``next`` cursor, so a task is printed once even while others are
created. ``-f json`` still prints exactly one JSON document — an array, written element by element,
so a million tasks never sit in memory — and closes it even when a page fails midway (the error
goes to stderr and the exit code, as for any other command).
"""

from __future__ import annotations

import json
import sys

from ats.cli import render
from ats.cli.session import Session, run_async
from ats.client.async_client import TaskFilters


def stream_pages(s: Session, filters: TaskFilters) -> None:
    _ = s.settings  # resolved (bad config reported) before entering asyncio
    shown = 0

    async def go() -> None:
        nonlocal shown
        async with s.client() as client:
            async for page in client.iter_tasks(**filters):
                if s.json:
                    for task in page.tasks:
                        sep = "\n" if shown == 0 else ",\n"
                        sys.stdout.write(sep + json.dumps(task.to_json(), ensure_ascii=False))
                        shown += 1
                    sys.stdout.flush()
                elif page.tasks:
                    render.task_table(page.tasks, len(page.tasks))
                    shown += len(page.tasks)

    if not s.json:
        run_async(go())
        render.notice("No tasks." if shown == 0 else f"{shown} tasks.")
        return
    sys.stdout.write("[")
    try:
        run_async(go())
    finally:
        sys.stdout.write("\n]\n" if shown else "]\n")
        sys.stdout.flush()
