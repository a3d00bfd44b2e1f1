"""swap / add / remove / replace_all on files: the right occurrence, every other byte kept."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from ats.errors import InvalidInput
from ats.tags.edit import add, remove, replace_all, swap
from ats.tags.grammar import InvalidTag


def note(tree: Path, data: str | bytes, name: str = "n.md") -> Path:
    path = tree / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_swap_replaces_one_tag_and_keeps_every_other_byte(tree: Path) -> None:
    before = "# T\r\n**Tags**: #a #delegated-x #b\r\n\r\nDo #delegated-x.\t \r\n\r\nend"
    path = note(tree, before)
    path.chmod(0o640)
    assert swap(path, "#delegated-x", "#claimed-x") is True
    assert path.read_bytes() == before.replace("#delegated-x #b", "#claimed-x #b").encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(os.listdir(tree)) == ["n.md"]  # no temp file left behind


def test_swap_without_hash_and_of_an_inline_tag(tree: Path) -> None:
    path = note(tree, "# T\n\nplease `#needs-x` then #needs-x\n")
    assert swap(path, "needs-x", "delegated-x") is True
    assert path.read_text() == "# T\n\nplease `#needs-x` then #delegated-x\n"


def test_swap_of_an_absent_tag_returns_false_and_writes_nothing(tree: Path) -> None:
    path = note(tree, "**Tags**: #needs-reviewer #delegated-fixture\n")
    inode = path.stat().st_ino
    assert swap(path, "#needs-review", "#x") is False
    assert swap(path, "#delegated-fix", "#x") is False
    assert path.stat().st_ino == inode
    assert path.read_text() == "**Tags**: #needs-reviewer #delegated-fixture\n"


@pytest.mark.parametrize(
    "text",
    [
        "see `#delegated-x`\n",
        "```\n#delegated-x\n```\n",
        "~~~~\n#delegated-x\n~~~\n",
        "<!-- #delegated-x -->\n",
        "issue#delegated-x\n",
    ],
)
def test_mentions_are_never_edited(tree: Path, text: str) -> None:
    path = note(tree, text)
    assert swap(path, "#delegated-x", "#claimed-x") is False
    assert remove(path, "#delegated-x") is False
    assert path.read_text() == text


def test_a_file_that_is_not_utf8_keeps_its_bytes(tree: Path) -> None:
    data = b"# caf\xe9\n**Tags**: #needs-x \xff\xfe\n\x00bin\n"
    path = note(tree, data)
    assert swap(path, "#needs-x", "#delegated-x") is True
    assert path.read_bytes() == data.replace(b"#needs-x", b"#delegated-x")


def test_a_symlink_inside_the_tree_edits_its_target(tree: Path) -> None:
    target = note(tree, "**Tags**: #a\n", "real.md")
    link = tree / "link.md"
    link.symlink_to(target)
    assert swap(link, "#a", "#b") is True
    assert link.is_symlink()
    assert target.read_text() == "**Tags**: #b\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("# T\n**Tags**: #a #b\n\nx\n", "# T\n**Tags**: #a #b #new\n\nx\n"),
        ("# T\n**Tags**:\n", "# T\n**Tags**: #new\n"),
        ("# T\n**Tags**: \n", "# T\n**Tags**: #new\n"),
        ("**Tags**: #a, #b\n", "**Tags**: #a, #b, #new\n"),
        ("**Tags**: #a <!-- by me -->\n", "**Tags**: #a #new <!-- by me -->\n"),
        ("# T\n\nBody.\n", "# T\n**Tags**: #new\n\nBody.\n"),
        ("# T\nBody.\n", "# T\n**Tags**: #new\n\nBody.\n"),
        ("# T\r\n\r\nBody.\r\n", "# T\r\n**Tags**: #new\r\n\r\nBody.\r\n"),
        ("# T", "# T\n**Tags**: #new"),
        ("# T\n", "# T\n**Tags**: #new\n"),
        ("Intro\n# T\n", "Intro\n# T\n**Tags**: #new\n"),
        ("Body only.\n", "**Tags**: #new\n\nBody only.\n"),
        ("", "**Tags**: #new\n"),
        ("```\n# not a heading\n```\n", "**Tags**: #new\n\n```\n# not a heading\n```\n"),
        ("---\n# yaml\n---\nBody\n", "---\n# yaml\n---\n**Tags**: #new\n\nBody\n"),
        ("---\na: 1\n---\n# T\n\nB\n", "---\na: 1\n---\n# T\n**Tags**: #new\n\nB\n"),
    ],
)  # fmt: skip
def test_add(tree: Path, before: str, after: str) -> None:
    path = note(tree, before)
    assert add(path, "new") is True
    assert path.read_bytes() == after.encode()


def test_add_of_a_tag_already_there_changes_nothing(tree: Path) -> None:
    path = note(tree, "# T\n\nalready #new inline\n")
    inode = path.stat().st_ino
    assert add(path, "#new") is False
    assert path.stat().st_ino == inode


def test_add_ignores_the_tag_in_code(tree: Path) -> None:
    path = note(tree, "# T\n\n`#new`\n")
    assert add(path, "#new") is True
    assert path.read_text() == "# T\n**Tags**: #new\n\n`#new`\n"


@pytest.mark.parametrize(
    ("before", "tag", "after"),
    [
        ("**Tags**: #a #b #c\n", "#b", "**Tags**: #a #c\n"),
        ("**Tags**: #a\n", "#a", "**Tags**:\n"),
        ("**Tags**: #a, #b\n", "#a", "**Tags**: #b\n"),
        ("**Tags**: #a, #b\n", "#b", "**Tags**: #a\n"),
        ("#a first\r\n", "#a", "first\r\n"),
        ("please #a now", "#a", "please now"),
        ("**Tags**: #x\n\n#a and\n**Tags**: #a\n", "#a", "**Tags**: #x\n\n#a and\n**Tags**:\n"),
    ],
)  # fmt: skip
def test_remove(tree: Path, before: str, tag: str, after: str) -> None:
    path = note(tree, before)
    assert remove(path, tag) is True
    assert path.read_bytes() == after.encode()


def test_remove_prefers_the_tags_line(tree: Path) -> None:
    path = note(tree, "# T\n**Tags**: #a #x\n\nbody #x\n")
    assert remove(path, "#x") is True
    assert path.read_text() == "# T\n**Tags**: #a\n\nbody #x\n"
    assert remove(path, "#x") is True
    assert path.read_text() == "# T\n**Tags**: #a\n\nbody\n"
    assert remove(path, "#x") is False


def test_replace_all_none_writes_nothing(tree: Path) -> None:
    path = note(tree, "x")
    inode = path.stat().st_ino
    assert replace_all(path, lambda text: None) is False
    assert replace_all(path, lambda text: text) is True
    assert path.stat().st_ino == inode


def test_concurrent_read_modify_writes_lose_no_update(tree: Path) -> None:
    path = note(tree, "0")

    def bump() -> None:
        for _ in range(10):
            replace_all(path, lambda text: str(int(text) + 1))

    threads = [threading.Thread(target=bump) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert path.read_text() == "160"


def test_a_nested_edit_in_the_same_directory_does_not_deadlock(tree: Path) -> None:
    first, second = note(tree, "#a", "1.md"), note(tree, "#a", "2.md")

    def change(text: str) -> str:
        assert swap(second, "#a", "#b")
        return "#c"

    assert replace_all(first, change) is True
    assert (first.read_text(), second.read_text()) == ("#c", "#b")


@pytest.mark.parametrize(("old", "new"), [("#Bad", "#ok"), ("#ok", "nope!"), ("", "#x")])
def test_an_invalid_tag_is_refused_before_the_file_is_touched(
    tree: Path, old: str, new: str
) -> None:
    path = note(tree, "#ok\n")
    with pytest.raises(InvalidTag):
        swap(path, old, new)
    assert path.read_text() == "#ok\n"


def test_bad_paths_are_refused(tree: Path) -> None:
    (tree / "dir.md").mkdir()
    os.mkfifo(tree / "pipe.md")
    (tree / "dangling.md").symlink_to(tree / "gone.md")
    cases = {
        "missing.md": "no such file",
        "dangling.md": "no such file",
        "dir.md": "is a directory",
        "pipe.md": "not a regular file",
    }
    for name, message in cases.items():
        with pytest.raises(InvalidInput, match=message):
            swap(Path(name), "#a", "#b")


def test_any_writable_file_is_edited_whatever_the_working_directory(
    tree: Path, tmp_path: Path
) -> None:
    outside = note(tmp_path, "#a\n", "outside.md")
    assert swap(outside, "#a", "#b") is True  # absolute
    assert swap("../outside.md", "#b", "#c") is True  # relative, above the working directory
    (tree / "link.md").symlink_to(outside)
    assert swap("link.md", "#c", "#d") is True  # a symlink: its target is edited
    assert (tree / "link.md").is_symlink()
    assert outside.read_text() == "#d\n"
    assert sorted(os.listdir(tmp_path)) == ["home", "outside.md", "work"]


def test_within_confines_edits_to_some_trees(tree: Path, tmp_path: Path) -> None:
    outside = note(tmp_path, "#a\n", "outside.md")
    (tree / "link.md").symlink_to(outside)
    for name in (str(outside), "../outside.md", "link.md"):
        with pytest.raises(InvalidInput, match=r"outside .*, the tree ATS may edit"):
            swap(name, "#a", "#b", within=[tree])
    assert outside.read_text() == "#a\n"
    assert swap(outside, "#a", "#b", within=[tree, tmp_path]) is True
    path = note(tree, "#a\n")
    with pytest.raises(InvalidInput, match="outside"):
        swap(path, "#a", "#b", within=[tree / "sub"])
    with pytest.raises(InvalidInput, match="outside"):
        swap(path, "#a", "#b", within=[])
    assert swap(path, "#a", "#b", within=[Path(".")]) is True
