"""``ats delegate review``: the requester approves, parks, dismisses and takes back stale work."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .delegate_fixtures import Terminal, delegate, delegate_argv, one_error_line, snapshot, write

OLD = "2020-01-01T00:00:00Z"


def test_approve_all_approves_needs_and_takes_back_what_went_stale(tree: Path) -> None:
    needs = write(tree / "sessions/needs.md", "# N\n**Tags**: #needs-fix #needs-reviewer\n")
    old_next = write(
        tree / "sessions/old-next.md",
        f"# O\n**Tags**: #next-research <!-- ats:next-research at={OLD} -->\n",
    )
    by_mtime = write(tree / "sessions/mtime-next.md", "# M\n**Tags**: #next-loop\n")
    day_ago = time.time() - 2 * 86400
    os.utime(by_mtime, (day_ago, day_ago))  # no mark: the file's age stands in
    fresh_next = write(tree / "sessions/fresh-next.md", "# F\n**Tags**: #next-chores\n")
    stale_claim = write(
        tree / "sessions/stale.md",
        f"# S\n**Tags**: #claimed-fix <!-- ats:claimed-fix by=bob at={OLD} -->\n",
    )
    fresh_claim = write(
        tree / "sessions/fresh.md",
        "# C\n**Tags**: #claimed-fix <!-- ats:claimed-fix by=amy at=2999-01-01T00:00:00Z -->\n",
    )
    untouched = {p: p.read_bytes() for p in (fresh_next, fresh_claim)}

    done = delegate(tree, "review", "--approve-all", "--stale", "2h")

    assert done.code == 0, done.err
    assert "[stale claim] #claimed-fix by bob" in done.out
    assert "reviewed 5: approved 2, re-routed 2, released 1" in done.out
    assert needs.read_text() == "# N\n**Tags**: #delegated-fix #delegated-reviewer\n"
    assert old_next.read_text() == "# O\n**Tags**: #delegated-research\n"
    assert by_mtime.read_text() == "# M\n**Tags**: #delegated-loop\n"
    assert stale_claim.read_text() == "# S\n**Tags**: #delegated-fix\n"
    assert {p: p.read_bytes() for p in untouched} == untouched


def test_stale_claims_are_offered_only_with_stale(tree: Path) -> None:
    write(
        tree / "sessions/s.md",
        f"# S\n**Tags**: #claimed-fix <!-- ats:claimed-fix by=b at={OLD} -->\n",
    )
    before = snapshot(tree)
    done = delegate(tree, "review", "--approve-all")
    assert done.code == 0 and "Nothing to review." in done.out
    assert snapshot(tree) == before


def test_review_needs_a_terminal_or_approve_all(tree: Path) -> None:
    write(tree / "sessions/n.md", "# N\n**Tags**: #needs-fix\n")
    before = snapshot(tree)
    for argv, message in {
        ("review",): "no terminal to ask: use --approve-all",
        ("review", "--approve-all", "--stale", "soon"): "not a duration: 'soon'",
        ("review", "--approve-all", "nowhere"): "nowhere: no such file or directory",
    }.items():
        done = delegate(tree, *argv)
        assert done.code == 2
        assert message in one_error_line(done.err)
    assert snapshot(tree) == before


def test_interactive_review_next_dismiss_defer(tree: Path) -> None:
    a = write(tree / "sessions/a.md", "# A\n**Tags**: #needs-fix\n\nAlpha.\n")
    b = write(tree / "sessions/b.md", "# B\n**Tags**: #x #needs-research\n\nBeta.\n")
    c = write(tree / "sessions/c.md", "# C\n**Tags**: #needs-loop\n\nGamma.\n")
    c_before = c.read_bytes()
    term = Terminal(tree)
    try:
        term.start(delegate_argv("review"))
        screen = term.wait_for("[a] approve, [n] next, [d] defer, [x] dismiss?")
        assert "[needs] #needs-fix  sessions/a.md:2  A — Alpha." in screen
        term.type("n")
        term.wait_for("[needs] #needs-research")
        term.type("x")
        term.wait_for("[needs] #needs-loop")
        term.type("")  # the default: defer
        screen = term.wait_for("EXIT=")
    finally:
        term.close()
    assert "EXIT=0" in screen
    assert "reviewed 3: parked as next 1, deferred 1, dismissed 1" in screen
    assert a.read_text().startswith("# A\n**Tags**: #next-fix <!-- ats:next-fix at=20")
    assert b.read_text() == "# B\n**Tags**: #x\n\nBeta.\n"
    assert c.read_bytes() == c_before
