"""``ats tag``: what a person or a script sees — output, exit codes, files on disk."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ats.cli.tag_find import fast_main, parse

from .conftest import Ats

NOTE = """# Fix the parser
**Tags**: #session #delegated-fix

Context line.
Please look at #delegated-fixture and #delegated-fix here.
`#delegated-code` is a mention.

```
#delegated-fenced
```
"""


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---- find ---------------------------------------------------------------------------------------


def test_find_prints_path_line_text(ats: Ats, tree: Path) -> None:
    write(tree / "notes/a.md", NOTE)
    result = ats("tag", "find", "#delegated-fix")
    assert result.code == 0
    assert result.out.splitlines() == [
        "notes/a.md:2: **Tags**: #session #delegated-fix",
        "notes/a.md:5: Please look at #delegated-fixture and #delegated-fix here.",
    ]


def test_find_glob_and_tags_only(ats: Ats, tree: Path) -> None:
    write(tree / "a.md", NOTE)
    assert ats("tag", "find", "delegated-*").out.splitlines() == [
        "a.md:2: **Tags**: #session #delegated-fix",
        "a.md:5: Please look at #delegated-fixture and #delegated-fix here.",
    ]
    tags_only = ats("tag", "find", "#delegated-*", "--tags-only")
    assert tags_only.out == "a.md:2: **Tags**: #session #delegated-fix\n"


def test_find_without_hits_prints_nothing(ats: Ats, tree: Path) -> None:
    write(tree / "a.md", NOTE)
    nothing = ats("tag", "find", "#delegated-code")
    assert (nothing.code, nothing.out, nothing.err) == (0, "", "")
    result = ats("tag", "find", "#nothing", "-f", "json")
    assert (result.code, result.json()) == (0, [])


def test_find_json_is_one_array(ats: Ats, tree: Path) -> None:
    write(tree / "a.md", NOTE)
    result = ats("-f", "json", "tag", "find", "*-fix")
    assert result.code == 0
    assert result.json() == [
        {"path": "a.md", "line": 2, "tag": "#delegated-fix", "text": NOTE.splitlines()[1]},
        {"path": "a.md", "line": 5, "tag": "#delegated-fix", "text": NOTE.splitlines()[4]},
    ]


def test_find_with_context_is_grep_like(ats: Ats, tree: Path) -> None:
    lines = [f"line {n}" for n in range(1, 11)]
    lines[1] = "hit #x"  # line 2
    lines[2] = "hit #x"  # line 3: same group
    lines[8] = "hit #x"  # line 9: a new group
    write(tree / "a.md", "\n".join(lines) + "\n")
    write(tree / "b.md", "#x\n")
    result = ats("tag", "find", "#x", "--context")
    assert result.out.splitlines() == [
        "a.md-1- line 1",
        "a.md:2: hit #x",
        "a.md:3: hit #x",
        "a.md-4- line 4",
        "--",
        "a.md-8- line 8",
        "a.md:9: hit #x",
        "a.md-10- line 10",
        "--",
        "b.md:1: #x",
        "b.md-2- ",
    ]


def test_find_defaults_to_sessions_when_it_exists(ats: Ats, tree: Path) -> None:
    write(tree / "top.md", "#x\n")
    assert ats("tag", "find", "#x").out == "top.md:1: #x\n"
    write(tree / "sessions/s.md", "#x\n")
    assert ats("tag", "find", "#x").out == "sessions/s.md:1: #x\n"
    assert ats("tag", "find", "#x", ".").out == "sessions/s.md:1: #x\ntop.md:1: #x\n"


def test_find_in_given_paths_skips_hidden_dirs(ats: Ats, tree: Path) -> None:
    write(tree / "d/a.md", "#x\n")
    write(tree / "d/.git/b.md", "#x\n")
    write(tree / "e.md", "#x\n")
    assert ats("tag", "find", "#x", "d", "e.md").out == "d/a.md:1: #x\ne.md:1: #x\n"


def test_find_shows_paths_outside_the_cwd_as_given(ats: Ats, tmp_path: Path) -> None:
    other = write(tmp_path / "elsewhere/a.md", "#x\n")
    assert ats("tag", "find", "#x", str(other.parent)).out == f"{other}:1: #x\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("#Bad",), "invalid tag pattern '#Bad'"),
        (("#x", "missing"), "missing: no such file"),
    ],
)
def test_find_refuses_bad_arguments(ats: Ats, argv: tuple[str, ...], message: str) -> None:
    result = ats("tag", "find", *argv)
    assert result.code == 2
    assert message in one_error_line(result.err)


# ---- add / remove / swap ------------------------------------------------------------------------


def test_swap_succeeds_once_then_reports_the_tag_gone(ats: Ats, tree: Path) -> None:
    path = write(tree / "n.md", NOTE)
    first = ats("tag", "swap", "n.md", "#delegated-fix", "#claimed-fix")
    assert first.code == 0
    assert path.read_text() == NOTE.replace("#session #delegated-fix", "#session #claimed-fix")
    second = ats("tag", "swap", "n.md", "#delegated-fix", "#claimed-fix")
    assert second.code == 0  # the inline occurrence was still there
    third = ats("tag", "swap", "n.md", "#delegated-fix", "#claimed-fix")
    assert third.code == 1
    assert one_error_line(third.err) == "#delegated-fix is not in n.md (someone else claimed it?)"
    assert "#delegated-fixture" in path.read_text()


def test_needs_review_never_edits_needs_reviewer(ats: Ats, tree: Path) -> None:
    text = "**Tags**: #needs-reviewer `#needs-review`\n"
    path = write(tree / "n.md", text)
    assert ats("tag", "swap", "n.md", "needs-review", "delegated-review").code == 1
    assert ats("tag", "remove", "n.md", "needs-review").code == 1
    assert ats("tag", "find", "#needs-review").out == ""
    assert path.read_text() == text


def test_add_and_remove(ats: Ats, tree: Path) -> None:
    path = write(tree / "n.md", "# Title\r\n\r\nBody\r\n")
    assert ats("tag", "add", "n.md", "needs-review").code == 0
    assert path.read_bytes() == b"# Title\r\n**Tags**: #needs-review\r\n\r\nBody\r\n"
    again = ats("tag", "add", "n.md", "#needs-review")
    assert again.code == 0
    assert "already has #needs-review" in again.err
    assert ats("tag", "remove", "n.md", "#needs-review").code == 0
    assert path.read_bytes() == b"# Title\r\n**Tags**:\r\n\r\nBody\r\n"
    gone = ats("tag", "remove", "n.md", "#needs-review")
    assert (gone.code, one_error_line(gone.err)) == (1, "#needs-review is not in n.md")


def test_no_final_newline_stays_that_way(ats: Ats, tree: Path) -> None:
    path = write(tree / "n.md", "# T\n**Tags**: #a")
    assert ats("tag", "swap", "n.md", "#a", "#b").code == 0
    assert ats("tag", "add", "n.md", "#c").code == 0
    assert path.read_bytes() == b"# T\n**Tags**: #b #c"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("swap", "n.md", "#Bad", "#b"), "invalid tag '#Bad'"),
        (("swap", "n.md", "#a", "b c"), "invalid tag 'b c'"),
        (("add", "n.md", "#1"), "invalid tag '#1'"),
        (("remove", "missing.md", "#a"), "missing.md: no such file"),
        (("swap", "dir", "#a", "#b"), "dir: is a directory"),
        (("swap", "../outside.md", "#a", "#b", "--root", "."), "outside"),
        (("swap", "link.md", "#a", "#b", "--root", "."), "outside"),
        (("add", "pipe.md", "#a"), "pipe.md: not a regular file"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_change_nothing(
    ats: Ats, tree: Path, tmp_path: Path, argv: tuple[str, ...], message: str
) -> None:
    path = write(tree / "n.md", "**Tags**: #a\n")
    outside = write(tmp_path / "outside.md", "**Tags**: #a\n")
    (tree / "link.md").symlink_to(outside)
    (tree / "dir").mkdir()
    os.mkfifo(tree / "pipe.md")
    result = ats("tag", *argv)
    assert result.code == 2
    line = one_error_line(result.err)
    assert line.startswith("Error: ")
    assert message in line
    assert path.read_text() == outside.read_text() == "**Tags**: #a\n"
    assert sorted(os.listdir(tree)) == ["dir", "link.md", "n.md", "pipe.md"]


# Root reads any file through these two capabilities; without them a mode-0 file is unreadable to
# its owner too. Dropping them from the bounding set (not switching to another user) keeps the
# checkout and the venv readable wherever they live, e.g. under a 0700 mktemp -d folder.
NO_DAC_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def test_an_unreadable_file_exits_2(tree: Path) -> None:
    path = write(tree / "n.md", "**Tags**: #a\n")
    path.chmod(0)
    command = [sys.executable, "-m", "ats", "tag", "swap", "n.md", "#a", "#b"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root reads every file, and setpriv is not there to drop that power")
        command = [*NO_DAC_OVERRIDE, *command]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "n.md: cannot read" in one_error_line(done.stderr)
    path.chmod(0o644)
    assert path.read_text() == "**Tags**: #a\n"
    assert sorted(os.listdir(tree)) == ["n.md"]


def test_any_writable_file_from_any_directory(ats: Ats, tree: Path, tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere/n.md", "**Tags**: #delegated-x\n")
    (tree / "link.md").symlink_to(outside)
    assert ats("tag", "swap", str(outside), "#delegated-x", "#claimed-x").code == 0
    assert ats("tag", "swap", "../elsewhere/n.md", "#claimed-x", "#done-x").code == 0
    assert ats("tag", "add", "link.md", "#more").code == 0
    assert ats("tag", "remove", "link.md", "#done-x").code == 0
    assert (tree / "link.md").is_symlink()
    assert outside.read_text() == "**Tags**: #more\n"


def test_root_confines_edits_to_one_tree(
    ats: Ats, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = write(tree / "docs/n.md", "**Tags**: #a\n")
    outside = write(tmp_path / "outside.md", "**Tags**: #a\n")
    refused = ats("tag", "swap", str(outside), "#a", "#b", "--root", str(tree))
    assert refused.code == 2
    line = one_error_line(refused.err)
    assert line == f"Error: {outside}: outside {tree}, the tree ATS may edit"
    assert ats("tag", "swap", "docs/n.md", "#a", "#b", "--root", str(tree)).code == 0
    monkeypatch.setenv("ATS_TAG_ROOT", str(tree / "docs"))
    assert ats("tag", "add", str(outside), "#c").code == 2
    assert ats("tag", "remove", "docs/n.md", "#b").code == 0
    assert ats("tag", "add", str(outside), "#c", "--root", str(tmp_path)).code == 0
    assert (inner.read_text(), outside.read_text()) == ("**Tags**:\n", "**Tags**: #a #c\n")


def test_the_ats_command_swaps_an_absolute_path_from_the_filesystem_root(
    tree: Path, tmp_path: Path
) -> None:
    path = write(tree / "notes/n.md", "**Tags**: #delegated-x\n")
    command = [sys.executable, "-m", "ats", "tag", "swap", str(path), "#delegated-x", "#claimed-x"]
    done = subprocess.run(command, cwd="/", capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"{path}: #delegated-x -> #claimed-x\n"
    assert path.read_text() == "**Tags**: #claimed-x\n"


# ---- real processes -----------------------------------------------------------------------------


def test_the_ats_command_swaps(ats_process: Ats, tree: Path) -> None:
    path = write(tree / "n.md", "**Tags**: #needs-x\n")
    done = ats_process("tag", "swap", "n.md", "#needs-x", "#delegated-x")
    assert (done.code, done.err) == (0, "")
    assert path.read_text() == "**Tags**: #delegated-x\n"


# Each racer imports the CLI first, says "ready", then blocks on a pipe; closing the pipe's write
# end releases all of them at once, so the swaps really overlap (import time would spread them).
RACER = """
import os, runpy, sys
import ats.cli.main, ats.cli.tag
go = int(sys.argv[1])
sys.argv = ["ats", *sys.argv[2:]]
print("ready", flush=True)
os.read(go, 1)
runpy.run_module("ats", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow
def test_48_concurrent_swaps_exactly_one_wins(tree: Path, tmp_path: Path) -> None:
    # A long file widens the read-modify-write window, so that without the lock several would win.
    filler = "Notes with `#delegated-x` mentions and #delegated-x-not tags.\n" * 5_000
    before = (NOTE + filler).replace("\n", "\r\n") + "tail without newline #delegated-x-not"
    before = before.replace("#session #delegated-fix", "#session #delegated-x #other")
    path = write(tree / "n.md", before)
    path.chmod(0o604)
    go_read, go_write = os.pipe()
    # Agents pass absolute paths from wherever they run: the racers start in another directory.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    argv = ["tag", "swap", str(path), "#delegated-x", "#claimed-x"]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go_read), *argv],
            cwd=elsewhere,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=(go_read,),
        )
        for _ in range(48)
    ]
    os.close(go_read)
    try:
        try:
            for racer in racers:
                assert racer.stdout is not None
                assert racer.stdout.readline() == "ready\n"
        finally:
            os.close(go_write)
        outcomes = [(racer.wait(timeout=60), racer.communicate()[1]) for racer in racers]
    finally:
        for racer in racers:  # a failed test leaves no racer behind
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0] + [1] * 47, outcomes
    assert all(err == "" for code, err in outcomes if code == 0)
    assert all("someone else claimed it" in err for code, err in outcomes if code == 1)
    after = path.read_bytes()
    assert after == before.replace("#delegated-x #other", "#claimed-x #other").encode()
    assert after.count(b"#claimed-x") == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o604
    assert sorted(os.listdir(tree)) == ["n.md"]
    assert os.listdir(elsewhere) == []


# ---- the typer-free fast path -------------------------------------------------------------------

SAME_OUTPUT = [
    ("tag", "find", "#delegated-*"),
    ("tag", "find", "*-fix", "notes", "--tags-only"),
    ("-f", "json", "tag", "find", "#delegated-fix"),
    ("tag", "find", "#delegated-fix", "--format=json", "-v"),
    ("tag", "-fjson", "find", "#nothing"),
    ("--actor-id", "me", "tag", "find", "-C", "#delegated-fix", "--url", "http://x"),
    ("tag", "find", "#delegated-fix", "--context", "--", "notes"),
    ("tag", "find", "#Bad"),
    ("tag", "find", "#x", "missing"),
]


@pytest.mark.parametrize("argv", SAME_OUTPUT, ids=" ".join)
def test_the_fast_path_prints_what_typer_prints(
    ats: Ats, tree: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    write(tree / "notes/a.md", NOTE)
    typer_path = ats(*argv)
    code = fast_main(list(argv))
    fast = capsys.readouterr()
    assert (code, fast.out, fast.err) == (typer_path.code, typer_path.out, typer_path.err)


@pytest.mark.parametrize(
    "argv",
    [
        ("tag", "find", "--help"),
        ("tag", "find"),
        ("tag", "swap", "a", "b", "c"),
        ("tag", "find", "#x", "--tags"),
        ("tag", "find", "#x", "-f", "yaml"),
        ("tag", "find", "#x", "-f"),
        ("tag", "find", "#x", "-f=json"),
        ("tag", "find", "#x", "-Cv"),
        ("--tags-only", "tag", "find", "#x"),
        ("list",),
    ],
    ids=" ".join,
)
def test_the_fast_path_leaves_anything_else_to_typer(argv: tuple[str, ...]) -> None:
    assert parse(list(argv)) is None
