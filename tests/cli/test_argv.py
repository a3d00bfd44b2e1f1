"""Global options work before or after the command, without stealing a command's own values."""

from __future__ import annotations

import pytest
import typer

from ats.cli.app import app
from ats.cli.argv import GLOBAL_FLAGS, GLOBAL_VALUE_OPTIONS, hoist_global_options
from ats.cli.main import main


def hoist(*argv: str) -> list[str]:
    return hoist_global_options(list(argv), typer.main.get_command(app))


def test_options_after_the_command_move_to_the_front() -> None:
    assert hoist("claim", "5", "--actor-id", "x", "-f", "json") == [
        "--actor-id", "x", "-f", "json", "claim", "5",
    ]  # fmt: skip
    assert hoist("--actor-id", "x", "claim", "5") == ["--actor-id", "x", "claim", "5"]


def test_glued_and_equals_forms() -> None:
    assert hoist("list", "-fjson", "--url=http://h:1", "-v") == [
        "-fjson", "--url=http://h:1", "-v", "list",
    ]  # fmt: skip


def test_a_command_option_value_that_looks_global_is_left_alone() -> None:
    assert hoist("create", "t", "--description", "-v", "--type", "-f") == [
        "create", "t", "--description", "-v", "--type", "-f",
    ]  # fmt: skip
    assert hoist("message", "add", "1", "hi", "--type", "text", "--org", "o") == [
        "--org", "o", "message", "add", "1", "hi", "--type", "text",
    ]  # fmt: skip


def test_everything_after_double_dash_is_literal() -> None:
    assert hoist("create", "--", "-v") == ["create", "--", "-v"]


def test_hoisted_names_are_exactly_the_root_options() -> None:
    root = typer.main.get_command(app)
    declared = {opt for p in root.params for opt in p.opts}
    assert declared - {"--version", "--help"} == GLOBAL_VALUE_OPTIONS | GLOBAL_FLAGS


@pytest.mark.parametrize(
    "argv",
    [["--actor-id", "x", "project", "current", "-f", "json"],
     ["project", "current", "--actor-id", "x", "-f", "json"],
     ["-f", "json", "project", "--org", "acme", "current"]],
)  # fmt: skip
def test_the_entry_point_accepts_both_placements(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("{")
