"""find over a tree: which files, which hits, in which order."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.errors import InvalidInput
from ats.tags import find as find_module
from ats.tags.find import default_paths, find, markdown_files
from ats.tags.grammar import InvalidTag, compile_pattern


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def test_default_paths_prefer_sessions(tree: Path) -> None:
    assert default_paths(tree) == [tree]
    (tree / "sessions").mkdir()
    assert default_paths(tree) == [tree / "sessions"]


def test_markdown_files_walks_dirs_and_skips_hidden_ones(tree: Path) -> None:
    write(tree / "a.md", "")
    write(tree / "deep/er/b.markdown", "")
    write(tree / "deep/c.MD", "")
    write(tree / "notes.txt", "")
    write(tree / ".git/x.md", "")
    write(tree / ".ats/y.md", "")
    explicit = write(tree / "plain.txt", "")
    found = markdown_files([tree, explicit])
    assert sorted(p.relative_to(tree).as_posix() for p in found) == [
        "a.md",
        "deep/c.MD",
        "deep/er/b.markdown",
        "plain.txt",
    ]


def test_a_missing_path_is_refused(tree: Path) -> None:
    with pytest.raises(InvalidInput, match="nope: no such file"):
        markdown_files([Path("nope")])
    with pytest.raises(InvalidInput, match="no such file"):
        find("#a", [tree / "nope"])


def test_find_is_sorted_by_path_then_line_and_skips_mentions(tree: Path) -> None:
    write(tree / "b.md", "# B\n**Tags**: #delegated-fix\n\n`#delegated-code`\nlater #delegated-y\n")
    write(tree / "a/z.md", "```\n#delegated-fence\n```\n#delegated-fixture and #delegated-fix\n")
    write(tree / "c.md", "nothing here #needs-fix\n")
    hits = find("#delegated-*", [tree])
    got = [(h.path.relative_to(tree).as_posix(), h.line, h.tag) for h in hits]
    assert got == [
        ("a/z.md", 4, "#delegated-fixture"),
        ("a/z.md", 4, "#delegated-fix"),
        ("b.md", 2, "#delegated-fix"),
        ("b.md", 5, "#delegated-y"),
    ]
    assert [h.tag for h in find("#delegated-fix", [tree])] == ["#delegated-fix"] * 2


def test_tags_only_keeps_the_tags_line(tree: Path) -> None:
    write(tree / "n.md", "# N\n**Tags**: #delegated-a\n\nbody #delegated-b\n")
    assert [h.tag for h in find("#delegated-*", [tree], tags_only=True)] == ["#delegated-a"]


def test_a_compiled_pattern_works_too(tree: Path) -> None:
    write(tree / "n.md", "#x-1 #y-1\n")
    assert [h.tag for h in find(compile_pattern("*-1"), [tree])] == ["#x-1", "#y-1"]


def test_an_invalid_pattern_is_refused(tree: Path) -> None:
    with pytest.raises(InvalidTag):
        find("#Nope", [tree])


def test_a_file_that_is_not_utf8_is_still_searched(tree: Path) -> None:
    write(tree / "latin1.md", "caf\xe9 #delegated-a\n".encode("latin-1"))
    (hit,) = find("#delegated-*", [tree])
    assert hit.tag == "#delegated-a"
    assert hit.text == "caf\udce9 #delegated-a"


def test_a_file_reached_twice_is_reported_once(tree: Path) -> None:
    note = write(tree / "n.md", "#a\n")
    assert len(find("#a", [tree, note])) == 1


def test_a_large_tree_read_by_two_processes_gives_the_same_hits(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(300):
        body = f"# N{n}\n**Tags**: #delegated-n{n % 7}\n\n`#delegated-code` caf\xe9 #delegated-x\n"
        write(tree / f"d{n % 5}/{n:03d}.md", body.encode("latin-1"))
    monkeypatch.setattr(find_module, "_FORK_FROM", 10**9)
    alone = find("#delegated-*", [tree])
    monkeypatch.setattr(find_module, "_FORK_FROM", 2)
    assert find("#delegated-*", [tree]) == alone
    assert len(alone) == 600
    assert alone[1].text == "`#delegated-code` caf\udce9 #delegated-x"
