"""The lazily loaded command table matches what the command modules define."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections import defaultdict

import typer

from ats.cli.lazy import COMMANDS, load


def test_every_command_of_every_module_is_in_the_table() -> None:
    merged: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, entry in COMMANDS.items():
        assert load(name) is not None, name
        if not entry.group:
            merged[(entry.module, entry.app)].add(name)
    for (module, app), names in merged.items():
        group = typer.main.get_group(getattr(importlib.import_module(module), app))
        assert set(group.commands) == names, module


def test_a_command_imports_only_what_it_needs() -> None:
    # `ats --version` must not drag in the HTTP client, rich or pydantic.
    code = (
        "import sys\n"
        "from ats.cli.main import main\n"
        "main(['--version'])\n"
        "heavy = [m for m in ('httpx', 'rich', 'pydantic', 'ats.client') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "[]", out
