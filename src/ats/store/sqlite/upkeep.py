"""SQLite upkeep: migrations, health, and keeping the file compact and its statistics fresh.

Rows are updated in place, so claims and completes leave nothing behind; deletes (feed
retention, deleted tasks, trimmed events) leave free pages. Later inserts reuse them, and what
stays free beyond a fifth of the file goes back to the file system through
``PRAGMA incremental_vacuum`` — which only works on a file created with ``auto_vacuum =
INCREMENTAL`` (set by :meth:`Runner.open` before the first table; older files are converted by
``ats db vacuum``). Every statement here runs on the event loop thread, so each step is bounded:
a few hundred pages, an ``ANALYZE`` limited to a sample (``sqlite_analysis_limit``).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from ats.errors import AtsError
from ats.store import sql
from ats.store.sizes import storage_document
from ats.store.sqlite.runner import Runner, Statements

FREE_SHARE = 0.2  # free pages beyond this share of the file are returned to the file system
FREE_MIN_PAGES = 256  # ...and beyond this many (1 MB of 4 KB pages): small files are left alone
VACUUM_STEP = 256  # pages per incremental_vacuum: a few milliseconds
OPTIMIZE_EVERY_S = 4 * 3600.0  # SQLite's advice: PRAGMA optimize every few hours and on close
AUTO_VACUUM = {0: "none", 1: "full", 2: "incremental"}


class SqliteUpkeep:
    """The :class:`~ats.store.ports.Upkeep` port on SQLite."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._optimize_at = 0.0
        self._changes_seen = -1

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        self.runner.execute("sqlite_migrations_table")
        done = {r["version"] for r in self.runner.all("sqlite_migrations_done")}
        for version, name, text in sql.migrations("ats.store.sqlite"):
            if version in done:
                continue
            # executescript commits on its own; wrap the file and the bookkeeping together.
            self.runner.script(
                f"BEGIN;\n{text}\nINSERT INTO schema_migrations (version, name) "
                f"VALUES ({version}, '{name}');\nCOMMIT;"
            )
            applied.append(f"{version:04d}_{name}")
        return applied

    async def ping(self) -> None:
        self.runner.all("ping")

    async def fold_counts(self) -> int:
        return 0  # the triggers add straight into the totals: nothing to fold

    async def tidy(self, dead_rows: int) -> bool:
        """One bounded round of upkeep; True if pages went back to the file system.

        ``dead_rows`` is PostgreSQL's trigger; SQLite has no dead rows (see the module doc).
        """
        due = self.runner.one("tidy_due")
        freed = False
        if (
            due is not None
            and due["auto_vacuum"] == 2
            and due["free_pages"] > max(FREE_MIN_PAGES, due["pages"] * FREE_SHARE)
        ):
            async with self.runner.write() as tx:
                for _ in range(VACUUM_STEP):
                    tx.execute("sqlite_incremental_vacuum_page")
            freed = True
        now = time.monotonic()
        if not self._optimize_at:
            self._optimize_at = now + OPTIMIZE_EVERY_S
        elif now >= self._optimize_at:
            self._optimize_at = now + OPTIMIZE_EVERY_S
            async with self.runner.write() as tx:
                _optimize(tx)
        await self._checkpoint_when_idle()
        return freed

    async def _checkpoint_when_idle(self) -> None:
        """Empty the WAL once nothing was written since the last round.

        The automatic checkpoint (every 1,000 pages) copies the WAL back but never shrinks the
        file, and cannot finish while another process reads; an idle moment can. A reader in
        another process must not stall the event loop: the busy timeout is off meanwhile, and
        a checkpoint that cannot finish now is tried again at the next idle round.
        """
        changes = self.runner.changes
        idle, self._changes_seen = changes == self._changes_seen, changes
        if not idle or _size(f"{self.runner.path}-wal") == 0:
            return
        await self.runner.exclusive(_checkpoint)  # not in the middle of a write apart

    def on_close(self) -> None:
        """``PRAGMA optimize`` on the way out, as SQLite advises (before the runner closes)."""
        if self.runner.is_open:
            with contextlib.suppress(AtsError):  # read-only or full: nothing to save
                _optimize(self.runner.statements)

    async def compact(self, full: bool) -> dict[str, int]:
        """Rewrite the file (``VACUUM``), turning on incremental auto-vacuum if it was off.

        ``full`` changes nothing here: SQLite's VACUUM always rewrites the whole file. Runs on
        a connection of its own in a worker thread; writers wait for it, readers do not.
        """
        path = str(self.runner.path)
        before = _size(path)
        await self.runner.apart(_vacuum, exclusive=True)
        return {"bytes_before": before, "bytes_after": _size(path)}

    async def storage_stats(self) -> dict[str, Any]:
        # dbstat reads every page of the file: a worker thread, a connection of its own
        base, objects = await self.runner.apart(_storage_rows, exclusive=False)
        page = int(base["page_size"])
        database = {
            "bytes": int(base["pages"]) * page,
            "free_bytes": int(base["free_pages"]) * page,
            "free_pages": int(base["free_pages"]),
            "page_size": page,
            "wal_bytes": _size(f"{self.runner.path}-wal"),
            "auto_vacuum": AUTO_VACUUM.get(int(base["auto_vacuum"]), str(base["auto_vacuum"])),
        }
        tables = [o for o in objects if o["type"] != "index"]
        indexes = [o for o in objects if o["type"] == "index"]
        return storage_document("sqlite", database, tables, indexes)


def _optimize(db: Statements) -> None:
    db.execute("sqlite_analysis_limit")
    db.execute("sqlite_optimize")


def _checkpoint(db: Statements) -> None:
    db.execute("sqlite_busy_timeout_off")
    try:
        db.execute("sqlite_wal_checkpoint")
    finally:
        db.execute("sqlite_busy_timeout_on")


def _vacuum(db: Statements) -> None:
    db.execute("sqlite_auto_vacuum_incremental")  # takes effect through VACUUM
    db.execute("sqlite_vacuum")
    _optimize(db)
    db.execute("sqlite_wal_checkpoint")


def _storage_rows(db: Statements) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    base = db.one("storage_database")
    assert base is not None
    # storage_tables needs dbstat, a compile-time option: without it, storage_indexes
    return base, db.first_of("storage_tables", "storage_indexes")


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
