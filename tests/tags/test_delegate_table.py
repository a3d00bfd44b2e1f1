"""The dispatch table: built-in defaults, a TOML file over them, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.errors import InvalidInput
from ats.tags.route import plan
from ats.tags.table import DEFAULTS, Route, load_table

from .delegate_fixtures import delegate, one_error_line, request, snapshot, write

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "delegation.toml"


def test_defaults_are_the_reference_table(tree: Path) -> None:
    table = load_table()
    assert table.source is None
    dispatchable = [n for n in table.order(DEFAULTS) if table.route(n).dispatchable]
    assert dispatchable == [
        "brainstorm",
        "direct",
        "research",
        "fix",
        "implementation",
        "loop",
        "chores",
        "documentation",
    ]
    assert table.route("implementation").command == 'claude -p "/implement {file}"'
    assert table.route("documentation").command == 'claude -p "/document {file}"'
    for noun in ("review", "rework"):
        assert not table.route(noun).dispatchable
    assert table.route("never-configured") == Route("never-configured", None, 0, False)


def test_file_found_upwards_amends_the_defaults(tree: Path) -> None:
    write(
        tree / ".ats/delegation.toml",
        '[nouns.fix]\ncommand = "fixer {file}"\npriority = 99\n'
        '[nouns.triage]\ncommand = "triage {files}"\n'
        "[nouns.chores]\ndispatchable = false\n",
    )
    (tree / "deep/er").mkdir(parents=True)
    table = load_table(cwd=tree / "deep/er")
    assert table.source == tree / ".ats/delegation.toml"
    assert table.route("fix") == Route("fix", "fixer {file}", 99, True)
    assert table.route("triage") == Route("triage", "triage {files}", 0, True)
    assert not table.route("chores").dispatchable
    assert table.order(["research", "fix", "triage"]) == ["fix", "research", "triage"]
    assert table.route("loop") == DEFAULTS["loop"]


def test_builtin_false_starts_from_an_empty_table(tree: Path) -> None:
    path = write(tree / "t.toml", 'builtin = false\n[nouns.fix]\ncommand = "f {file}"\n')
    table = load_table(path)
    assert set(table.routes) == {"fix"}


def test_the_example_file_loads(tree: Path) -> None:
    table = load_table(EXAMPLE)
    assert table.route("implementation").dispatchable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nouns.fix]\ncomand = 'x {file}'\n", "nouns.fix.comand: unknown key"),
        ("colour = 1\n", "colour: unknown key"),
        ("[nouns.fix]\npriority = 'high'\n", "nouns.fix.priority: Input should be a valid integer"),
        ("[nouns.fix\n", "is not valid TOML"),
        ("[nouns.Fix]\ncommand = 'x'\n", "nouns.Fix: not a valid noun"),
        ("[nouns.fix]\ncommand = 'x {path}'\n", "unknown placeholder {path}"),
        ("[nouns.new]\ndispatchable = true\n", "nouns.new: dispatchable but no command"),
    ],
)
def test_malformed_table_is_one_clear_error(tree: Path, text: str, message: str) -> None:
    path = write(tree / "t.toml", text)
    with pytest.raises(InvalidInput) as caught:
        load_table(path)
    assert message in caught.value.message and str(path) in caught.value.message


def test_cli_with_a_malformed_table_exits_2_before_claiming(tree: Path) -> None:
    request(tree, "login")
    write(tree / ".ats/delegation.toml", "[nouns.fix]\ncomand = 'x'\n")
    before = snapshot(tree)
    done = delegate(tree, "claim", "--yes", "--no-route")
    assert done.code == 2
    assert "nouns.fix.comand: unknown key" in one_error_line(done.err)
    assert snapshot(tree) == before


def test_plan_expands_placeholders_per_argument() -> None:
    files = [Path("a.md"), Path("b c.md")]
    per_file = plan(Route("fix", 'claude -p "/fix {file}"', 1, True), files)
    assert [r.argv for r in per_file] == [
        ("claude", "-p", "/fix a.md"),
        ("claude", "-p", "/fix b c.md"),
    ]
    grouped = plan(Route("loop", "run {noun} {files} --all={files}", 1, True), files)
    assert [r.argv for r in grouped] == [("run", "loop", "a.md", "b c.md", "--all=a.md b c.md")]
    assert plan(Route("review", None, 0, False), files) == []
