"""``ats delegate claim``: what a worker sees, what lands on disk, and how racing claimers end."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ats.tags.claims import parse_stamp

from .delegate_fixtures import (
    CLAIM_MARK,
    Terminal,
    delegate,
    delegate_argv,
    one_error_line,
    request,
    snapshot,
    write,
)


def test_claim_yes_no_route_claims_request_files_and_prints_summary(tree: Path) -> None:
    a = request(tree, "login", topic="Build the login page")
    b = request(tree, "logout")
    other = write(tree / "sessions/notes.md", "# Notes\n**Tags**: #delegated-fix\n\nFlush it.\n")
    before = other.read_bytes()

    done = delegate(tree, "claim", "implementation", "--yes", "--no-route", "--by", "alice")

    assert done.code == 0, done.err
    assert "claimed: 2" in done.out
    assert "sessions/REQUEST-login.md:2  #delegated-implementation → #claimed-implementation" in (
        done.out
    )
    assert "Topic: Build the login page" in done.out
    assert "already claimed by another worker: 0" in done.out
    for path in (a, b):
        tags_line = path.read_text().splitlines()[1]
        assert tags_line.startswith("**Tags**: #claimed-implementation <!-- ats:claimed-")
        mark = CLAIM_MARK.search(tags_line)
        assert mark is not None and mark[1] == "implementation" and mark[2] == "alice"
        at = parse_stamp(mark[3])
        assert at is not None and datetime.now(UTC) - at < timedelta(minutes=1)
    assert other.read_bytes() == before  # another noun: untouched


def test_claim_accepts_the_tag_form_and_leaves_the_rest_of_the_file_alone(tree: Path) -> None:
    text = (
        "# Parser\n**Tags**: #session #delegated-fix\n\nIt breaks on `#delegated-fix` input.\n"
        "See #delegated-fixture too.\n"
    )
    path = write(tree / "sessions/parser.md", text)

    done = delegate(tree, "claim", "#delegated-fix", "--yes", "--no-route", "--by", "bob")

    assert done.code == 0, done.err
    lines = path.read_text().split("\n")
    assert lines[1].startswith("**Tags**: #session #claimed-fix <!-- ats:claimed-fix by=bob ")
    assert lines[0] == "# Parser" and lines[2:] == text.split("\n")[2:]


def test_claim_all_nouns_in_table_priority_order(tree: Path) -> None:
    write(tree / "sessions/a.md", "# A\n**Tags**: #delegated-documentation\n")
    write(tree / "sessions/b.md", "# B\n**Tags**: #delegated-brainstorm\n")
    write(tree / "sessions/c.md", "# C\n**Tags**: #delegated-fix\n")

    done = delegate(tree, "claim", "--yes", "--no-route", "--by", "w")

    assert done.code == 0, done.err
    claimed = [line.split()[1] for line in done.out.splitlines() if "→ #claimed-" in line]
    assert claimed == ["#delegated-brainstorm", "#delegated-fix", "#delegated-documentation"]


def test_inline_tags_are_items_too_and_mentions_are_not(tree: Path) -> None:
    path = write(
        tree / "sessions/log.md",
        "# Log\n\n## Cache\n\nThe cache is stale #delegated-research\n\n"
        "```\n#delegated-research in a fence\n```\n",
    )

    done = delegate(tree, "claim", "research", "--yes", "--no-route")

    assert done.code == 0, done.err
    assert "claimed: 1" in done.out
    text = path.read_text()
    assert "The cache is stale #claimed-research <!-- ats:claimed-research by=" in text
    assert "#delegated-research in a fence" in text


def test_non_dispatchable_noun_is_claimed_but_not_routed(tree: Path) -> None:
    path = write(tree / "sessions/r.md", "# R\n**Tags**: #delegated-review\n")

    done = delegate(tree, "claim", "--yes")

    assert done.code == 0, done.err
    assert "review: 1 claimed, not routed (not dispatchable: a person does it)" in done.out
    assert "#claimed-review" in path.read_text()


def test_claimed_groups_are_routed_to_their_command(tree: Path) -> None:
    # A command that records its arguments, so the routing is visible on disk.
    script = write(
        tree / "record.py",
        "import sys, pathlib\n"
        "with pathlib.Path('routed.txt').open('a') as f:\n"
        "    f.write(' '.join(sys.argv[1:]) + '\\n')\n",
    )
    write(
        tree / ".ats/delegation.toml",
        f"[nouns.fix]\ncommand = '{sys.executable} {script} fix {{file}}'\n"
        f"[nouns.chores]\ncommand = '{sys.executable} {script} {{noun}} {{files}}'\n",
    )
    write(tree / "sessions/a.md", "# A\n**Tags**: #delegated-fix\n")
    write(tree / "sessions/b b.md", "# B\n**Tags**: #delegated-fix\n")
    write(tree / "sessions/c.md", "# C\n**Tags**: #delegated-chores\n")
    write(tree / "sessions/d.md", "# D\n**Tags**: #delegated-chores\n")

    done = delegate(tree, "claim", "--yes")

    assert done.code == 0, done.err
    routed = sorted((tree / "routed.txt").read_text().splitlines())
    assert routed == [
        "chores sessions/c.md sessions/d.md",  # {files}: one run for the group
        "fix sessions/a.md",  # {file}: one run per file
        "fix sessions/b b.md",  # one argument, spaces and all
    ]
    assert "routed: 3 run(s)" in done.out


def test_a_route_that_cannot_start_is_reported_and_exits_1(tree: Path) -> None:
    write(tree / ".ats/delegation.toml", "[nouns.fix]\ncommand = 'no-such-command-xyz {file}'\n")
    path = write(tree / "sessions/a.md", "# A\n**Tags**: #delegated-fix\n")

    done = delegate(tree, "claim", "--yes")

    assert done.code == 1
    assert "no-such-command-xyz sessions/a.md  (did not start:" in done.out
    assert "#claimed-fix" in path.read_text()  # the claim itself stands


def test_without_a_terminal_and_without_yes_it_refuses(tree: Path) -> None:
    request(tree, "login")
    before = snapshot(tree)

    done = delegate(tree, "claim")

    assert done.code == 2
    assert one_error_line(done.err) == "ats delegate: no terminal to ask: use --yes"
    assert snapshot(tree) == before


def test_bad_input_is_one_line_exit_2_and_changes_nothing(tree: Path) -> None:
    request(tree, "login")
    before = snapshot(tree)
    cases = {
        ("claim", "Bad_Noun", "--yes"): "invalid noun 'Bad_Noun'",
        ("claim", "#needs-fix", "--yes"): "is not a #delegated-NOUN tag",
        ("claim", "#", "--yes"): "invalid tag '#'",
        ("claim", "fix", "missing-dir", "--yes"): "missing-dir: no such file or directory",
        ("claim", "--yes", "--table", "nope.toml"): "dispatch table nope.toml does not exist",
    }
    for argv, message in cases.items():
        done = delegate(tree, *argv)
        assert done.code == 2, (argv, done)
        line = one_error_line(done.err)
        assert line.startswith("ats delegate: ") and message in line, (argv, line)
    assert snapshot(tree) == before


def test_paths_anywhere_are_claimed_but_nothing_outside_them_is_edited(tree: Path) -> None:
    elsewhere = tree.parent / "elsewhere"
    mine = request(elsewhere, "login")
    beyond = write(tree.parent / "beyond.md", "# B\n**Tags**: #delegated-implementation\n")
    (elsewhere / "sessions/link.md").symlink_to(beyond)
    before = beyond.read_bytes()

    target = str(elsewhere / "sessions")
    done = delegate(tree, "claim", "implementation", target, "--yes", "--no-route", "--by", "al")

    assert done.code == 0, done.err
    assert "claimed: 1" in done.out
    assert "#claimed-implementation <!-- ats:claimed-" in mine.read_text()
    assert beyond.read_bytes() == before  # a symlink out of the scanned tree is not followed


def test_racing_claimers_claim_every_item_exactly_once(tree: Path) -> None:
    count = 60
    for n in range(count):
        request(tree, f"item{n:02}")
    procs = [
        subprocess.Popen(
            delegate_argv("claim", "--yes", "--no-route", "--by", f"w{k}"),
            cwd=tree,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]

    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    claimed = sum(
        int(line.split()[-1])
        for out, _ in outputs
        for line in out.splitlines()
        if line.startswith("claimed: ")
    )
    assert claimed == count  # nobody double-claimed, nobody lost one
    owners = []
    for path in (tree / "sessions").iterdir():
        text = path.read_text()
        assert text.count("#claimed-implementation") == 1 and "#delegated-" not in text
        marks = CLAIM_MARK.findall(text)
        assert len(marks) == 1
        owners.append(marks[0][1])
    assert len(owners) == count
    assert all("Traceback" not in err for _, err in outputs)


def test_interactive_choose_claims_only_the_chosen_item(tree: Path) -> None:
    first = request(tree, "alpha", topic="First thing")
    second = request(tree, "beta", topic="Second thing")
    term = Terminal(tree)
    try:
        term.start(delegate_argv("claim", "implementation", "--no-route", "--by", "eve"))
        screen = term.wait_for("Claim [a]ll, [c]hoose or [s]kip?")
        assert "1. sessions/REQUEST-alpha.md:2  Topic: First thing" in screen
        assert "2. sessions/REQUEST-beta.md:2  Topic: Second thing" in screen
        term.type("c")
        term.wait_for("Which")
        term.type("1")
        screen = term.wait_for("EXIT=")
    finally:
        term.close()
    assert "EXIT=0" in screen
    assert "claimed: 1" in screen and "skipped: 1" in screen
    assert "#claimed-implementation" in first.read_text()
    assert "#delegated-implementation" in second.read_text()


def test_the_loser_of_a_race_reports_already_claimed_by_another_worker(tree: Path) -> None:
    paths = [request(tree, name) for name in ("one", "two")]
    term = Terminal(tree)
    try:
        # The person is shown the items (the scan is done) and hesitates ...
        term.start(delegate_argv("claim", "--no-route", "--by", "slow"))
        term.wait_for("Claim [a]ll, [c]hoose or [s]kip?")
        # ... while a worker takes everything ...
        fast = delegate(tree, "claim", "--yes", "--no-route", "--by", "fast")
        assert fast.code == 0 and "claimed: 2" in fast.out
        # ... then the person says "all".
        term.type("a")
        screen = term.wait_for("EXIT=")
    finally:
        term.close()
    assert "EXIT=0" in screen
    assert "claimed: 0" in screen
    assert "already claimed by another worker: 2" in screen
    for path in paths:
        assert "by=fast" in path.read_text() and "by=slow" not in path.read_text()


def test_a_path_may_come_first_and_published_items_are_left_to_the_queue(tree: Path) -> None:
    mine = write(tree / "work/a.md", "# A\n**Tags**: #delegated-fix\n")
    queued = write(
        tree / "work/b.md", "# B\n**Tags**: #delegated-fix <!-- ats:task-fix key=K -->\n"
    )
    elsewhere = request(tree, "login")
    before = {p: p.read_bytes() for p in (queued, elsewhere)}

    done = delegate(tree, "claim", "work", "--yes", "--no-route", env={"ATS_ACTOR_ID": "ci-bot"})

    assert done.code == 0, done.err
    assert "claimed: 1" in done.out
    assert "<!-- ats:claimed-fix by=ci-bot at=" in mine.read_text()
    assert {p: p.read_bytes() for p in before} == before
