"""Placeholders in the command's argv: one argument each, and never an option the template did
not write (SPEC §6, command executor)."""

from __future__ import annotations

import pytest

from ats.dispatch.executors import CommandExecutor, Failed
from ats.dispatch.prompt import UnsafeArgument, Work, render_argv, split_command


def work(title: str = "Build docs", description: str | None = None) -> Work:
    return Work(12, title, description, {"doc": "a.md"}, "builds", 1)


def test_each_placeholder_stays_one_argument() -> None:
    argv = split_command("tool --fixed {title} id={id} {payload}")
    assert render_argv(argv, work("two words; rm -rf /")) == [
        "tool",
        "--fixed",
        "two words; rm -rf /",
        "id=12",
        '{"doc":"a.md"}',
    ]


@pytest.mark.parametrize("title", ["--config=/etc/passwd", "-o/some/file", "-", "--"])
def test_a_value_that_would_be_read_as_an_option_is_refused(title: str) -> None:
    with pytest.raises(UnsafeArgument) as refused:
        render_argv(split_command("tool {title} --fixed"), work(title))
    assert "{title} made argument 1 start with '-'" in refused.value.reason
    assert "tool --fixed -- {title}" in refused.value.reason  # says how to fix it
    assert refused.value.value == title


def test_after_a_literal_double_dash_it_is_an_operand() -> None:
    argv = split_command("tool --fixed -- {title} {description}")
    assert render_argv(argv, work("--config=/etc/passwd", "-o/x")) == [
        "tool",
        "--fixed",
        "--",
        "--config=/etc/passwd",
        "-o/x",
    ]


def test_a_double_dash_from_a_value_does_not_open_the_door() -> None:
    argv = split_command("tool {description} {title}")
    with pytest.raises(UnsafeArgument, match="argument 1"):
        render_argv(argv, work("-x", "--"))


def test_an_option_the_template_wrote_keeps_its_value() -> None:
    argv = split_command("tool --name={title} -m {description}")
    assert render_argv(argv, work("-x", "plain")) == ["tool", "--name=-x", "-m", "plain"]
    with pytest.raises(UnsafeArgument, match="argument 3"):
        render_argv(argv, work("ok", "-rf"))


async def test_the_command_executor_fails_the_task_for_good() -> None:
    executor = CommandExecutor("echo {title}")
    result = await executor.run(work("--help"), {}, 5)
    assert isinstance(result, Failed) and result.final
    assert result.reason.startswith("refused to run: {title} made argument 1 start with '-'")
    assert result.detail == "--help"
