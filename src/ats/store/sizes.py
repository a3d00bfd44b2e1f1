"""The ``ats db stats`` document both backends build: bytes and rows per table and per index."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def storage_document(
    backend: str,
    database: Mapping[str, Any],
    tables: Iterable[Mapping[str, Any]],
    indexes: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """One JSON document: ``database`` (file or database size, free space), ``tables`` (rows,
    dead rows where the backend has them, table / index / total bytes) and ``indexes``.

    A number the backend cannot tell is ``None`` (SQLite without dbstat: sizes per table).
    """
    index_list = [
        {
            "name": str(i["name"]),
            "table": str(i["table_name"]),
            "rows": _int(i.get("rows")),
            "bytes": _int(i.get("bytes")),
        }
        for i in indexes
    ]
    per_table: dict[str, int | None] = {}
    for i in index_list:
        name, size = str(i["table"]), i["bytes"]
        if name not in per_table or per_table[name] is not None:
            per_table[name] = None if size is None else (per_table.get(name) or 0) + int(size)
    table_list = []
    for t in tables:
        size = _int(t.get("bytes"))
        index_bytes = _int(t["index_bytes"]) if "index_bytes" in t else per_table.get(t["name"], 0)
        total = _int(t.get("total_bytes"))
        if total is None and size is not None and index_bytes is not None:
            total = size + index_bytes
        table_list.append(
            {
                "name": str(t["name"]),
                "rows": _int(t.get("rows")),
                "dead_rows": _int(t.get("dead_rows")),
                "bytes": size,
                "index_bytes": index_bytes,
                "total_bytes": total,
            }
        )
    return {
        "backend": backend,
        "database": dict(database),
        "tables": table_list,
        "indexes": index_list,
    }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
