"""``ats db stats`` and ``ats db vacuum`` on a SQLite file made before incremental auto-vacuum."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support import Ats


def test_db_vacuum_converts_an_old_sqlite_file_and_db_stats_reports_it(
    ats: Ats, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)  # made before auto_vacuum = INCREMENTAL: the default, none
    db.execute("CREATE TABLE filler (x)")
    db.close()
    url = f"sqlite:///{path}"
    assert ats("db", "upgrade", "--database", url).code == 0

    before = ats("db", "stats", "--database", url, "-f", "json")
    assert before.code == 0, before.err
    document = before.json()
    assert document["backend"] == "sqlite"
    assert document["database"]["auto_vacuum"] == "none"
    tasks = next(t for t in document["tables"] if t["name"] == "tasks")
    assert tasks["rows"] == 0 and tasks["bytes"] > 0 and tasks["index_bytes"] > 0
    assert tasks["total_bytes"] == tasks["bytes"] + tasks["index_bytes"]
    claimable = [i for i in document["indexes"] if i["name"] == "tasks_claimable"]
    assert claimable and claimable[0]["table"] == "tasks"

    vacuumed = ats("db", "vacuum", "--database", url)
    assert vacuumed.code == 0 and vacuumed.out.startswith("vacuumed: "), vacuumed.err
    after = ats("db", "stats", "--database", url, "-f", "json").json()
    assert after["database"]["auto_vacuum"] == "incremental"

    table = ats("db", "stats", "--database", url)
    assert table.code == 0 and "tasks_claimable" in table.out
    assert "auto-vacuum incremental" in table.out
