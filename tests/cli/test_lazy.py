"""The lazily loaded command table matches what the command modules define."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

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


def test_tag_find_starts_without_typer_pydantic_or_the_client(tmp_path: Path) -> None:
    """``ats tag find`` runs in loops over big trees: the entry point answers it before the
    HTTP client, rich, pydantic or even typer are imported (cli/tag_find.py)."""
    (tmp_path / "a.md").write_text("# A\n**Tags**: #delegated-fix\n")
    code = (
        "import sys\n"
        "sys.argv = ['ats', 'tag', 'find', '#delegated-*', sys.argv[1]]\n"
        "from ats.cli import main\n"
        "try:\n"
        "    main.run()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('typer', 'httpx', 'rich', 'pydantic', 'ats.client')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    assert lines[0].endswith("a.md:2: **Tags**: #delegated-fix"), out
    assert lines[-1] == "[]", out


def test_the_root_alone_imports_no_command() -> None:
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
