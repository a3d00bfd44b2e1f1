"""SQLite upkeep: keep the file compact and the planner's statistics fresh, in short steps.

Rows are updated in place, so claims and completes leave nothing behind; deletes (feed
retention, deleted tasks, trimmed events) leave free pages. Later inserts reuse them, and what
stays free beyond a fifth of the file goes back to the file system through
``PRAGMA incremental_vacuum`` — which only works on a file created with ``auto_vacuum =
INCREMENTAL`` (set by :meth:`SqliteConnection.open` before the first table; older files are
converted by ``ats db vacuum``). Every statement here runs on the event loop thread, so each
step is bounded: a few hundred pages, an ``ANALYZE`` limited to a sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from typing import Any

from ats.store.sizes import storage_document
from ats.store.sqlite.connection import Q, SqliteConnection, _translated

FREE_SHARE = 0.2  # free pages beyond this share of the file are returned to the file system
FREE_MIN_PAGES = 256  # ...and beyond this many (1 MB of 4 KB pages): small files are left alone
VACUUM_STEP = 256  # pages per incremental_vacuum: a few milliseconds
OPTIMIZE_EVERY_S = 4 * 3600.0  # SQLite's advice: PRAGMA optimize every few hours and on close
# ANALYZE reads this many rows per index at most, so PRAGMA optimize stays short on big tables.
ANALYSIS_LIMIT = 400
AUTO_VACUUM = {0: "none", 1: "full", 2: "incremental"}


class SqliteUpkeep(SqliteConnection):
    _optimize_at = 0.0
    _changes_seen = -1

    async def tidy(self, dead_rows: int) -> bool:
        """One bounded round of upkeep; True if pages went back to the file system.

        ``dead_rows`` is PostgreSQL's trigger; SQLite has no dead rows (see the module doc).
        """
        due = self._one("tidy_due")
        freed = False
        if (
            due is not None
            and due["auto_vacuum"] == 2
            and due["free_pages"] > max(FREE_MIN_PAGES, due["pages"] * FREE_SHARE)
        ):
            async with self._write():
                # One page per statement: the pragma frees a page per step, and Python's sqlite3
                # steps a statement that has no result columns only once.
                for _ in range(VACUUM_STEP):
                    self.db.execute("PRAGMA incremental_vacuum(1)")
            freed = True
        now = time.monotonic()
        if not self._optimize_at:
            self._optimize_at = now + OPTIMIZE_EVERY_S
        elif now >= self._optimize_at:
            self._optimize_at = now + OPTIMIZE_EVERY_S
            async with self._write():
                self._optimize()
        await self._checkpoint_when_idle()
        return freed

    def _optimize(self) -> None:
        self.db.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
        self.db.execute("PRAGMA optimize").fetchall()

    async def _checkpoint_when_idle(self) -> None:
        """Empty the WAL once nothing was written since the last round.

        The automatic checkpoint (every 1,000 pages) copies the WAL back but never shrinks the
        file, and cannot finish while another process reads; an idle moment can. A reader in
        another process must not stall the event loop: the busy timeout is off meanwhile, and
        a checkpoint that cannot finish now is tried again at the next idle round.
        """
        changes = self.db.total_changes
        idle, self._changes_seen = changes == self._changes_seen, changes
        if not idle or _size(f"{self.path}-wal") == 0:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # not in the middle of a write apart (another connection)
            with _translated():
                self.db.execute("PRAGMA busy_timeout = 0")
                try:
                    self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                finally:
                    self.db.execute("PRAGMA busy_timeout = 5000")

    async def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):  # read-only or full: nothing to save
                self._optimize()
        await super().close()

    async def compact(self, full: bool) -> dict[str, int]:
        """Rewrite the file (``VACUUM``), turning on incremental auto-vacuum if it was off.

        ``full`` changes nothing here: SQLite's VACUUM always rewrites the whole file. Runs on
        a connection of its own in a worker thread; writers wait for it, readers do not.
        """
        before = _size(str(self.path))
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await asyncio.to_thread(self._vacuum)
        return {"bytes_before": before, "bytes_after": _size(str(self.path))}

    def _vacuum(self) -> None:
        with _translated():
            db = sqlite3.connect(self.path, isolation_level=None)
            try:
                db.execute("PRAGMA busy_timeout = 5000")
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect through VACUUM
                db.execute("VACUUM")
                db.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
                db.execute("PRAGMA optimize").fetchall()
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                db.close()

    async def storage_stats(self) -> dict[str, Any]:
        # dbstat reads every page of the file: a worker thread, a connection of its own
        return await asyncio.to_thread(self._storage_stats)

    def _storage_stats(self) -> dict[str, Any]:
        with _translated():
            db = sqlite3.connect(self.path, isolation_level=None)
            db.row_factory = sqlite3.Row
            try:
                db.execute("PRAGMA busy_timeout = 5000")
                base = dict(db.execute(Q["storage_database"]).fetchone())
                try:
                    objects = [dict(r) for r in db.execute(Q["storage_tables"])]
                except sqlite3.OperationalError:  # built without SQLITE_ENABLE_DBSTAT_VTAB
                    objects = [dict(r) for r in db.execute(Q["storage_indexes"])]
            finally:
                db.close()
        page = int(base["page_size"])
        database = {
            "bytes": int(base["pages"]) * page,
            "free_bytes": int(base["free_pages"]) * page,
            "free_pages": int(base["free_pages"]),
            "page_size": page,
            "wal_bytes": _size(f"{self.path}-wal"),
            "auto_vacuum": AUTO_VACUUM.get(int(base["auto_vacuum"]), str(base["auto_vacuum"])),
        }
        tables = [o for o in objects if o["type"] != "index"]
        indexes = [o for o in objects if o["type"] == "index"]
        return storage_document("sqlite", database, tables, indexes)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
