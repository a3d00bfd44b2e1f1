"""Both backends define the same named statements, and every migration set is well-formed."""

from __future__ import annotations

from ats.store import sql


def test_backends_define_the_same_query_names() -> None:
    # pg_* and sqlite_* statements are one backend's plumbing, with no counterpart in the other
    sqlite = {n for n in sql.load("ats.store.sqlite") if not n.startswith("sqlite_")}
    postgres = {n for n in sql.load("ats.store.postgres") if not n.startswith("pg_")}
    assert sqlite == postgres, sqlite ^ postgres


def test_migrations_are_numbered_alike() -> None:
    sqlite = [(v, n) for v, n, _ in sql.migrations("ats.store.sqlite")]
    postgres = [(v, n) for v, n, _ in sql.migrations("ats.store.postgres")]
    assert sqlite == postgres
    assert [v for v, _ in sqlite] == list(range(1, len(sqlite) + 1))


def test_parse_rejects_duplicate_names() -> None:
    import pytest

    with pytest.raises(ValueError, match="twice"):
        sql.parse("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")


def test_named_parameters_become_numbered_ones_outside_strings_comments_and_casts() -> None:
    text = "SELECT :a::text, ':b', \"x:y\" -- :c\nFROM t WHERE id = :id AND x = :a"
    numbered, names = sql.numbered(text)
    assert numbered == "SELECT $1::text, ':b', \"x:y\" -- :c\nFROM t WHERE id = $2 AND x = $1"
    assert names == ("a", "id")
    assert sql.bind(text, {"id": 7, "a": "v", "unused": 0}) == (numbered, ["v", 7])
