"""``ats tag find``, without typer: the output, and a fast path for the entry point.

Scripts and agents run ``ats tag find`` in loops over trees of thousands of files, and the scan
takes ~0.1 s; typer (which builds every parameter through pydantic) would add ~0.17 s to each call.
So ``fast_main`` parses exactly the ``ats [GLOBAL OPTIONS] tag find …`` command lines it fully
understands and runs them with the stdlib alone; for anything else (``--help``, a typo, another
command) it returns None and the typer app takes over, errors and all. ``ats tag find`` under
typer (cli/tag.py) prints through the same ``run``, and a test holds the two paths to the same
output.

Also runnable as ``python -m ats.cli.tag_find PATTERN [PATHS]… [--tags-only] [--context]``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ats.errors import InvalidInput
from ats.tags.find import default_paths, find
from ats.tags.scan import Hit

EXIT_OK, EXIT_USAGE = 0, 2
# The root's global options (cli/app.py, cli/argv.py): valid anywhere on the line.
_GLOBAL_VALUE = frozenset(
    {"-u", "--url", "--org", "--project", "--actor-type", "--actor-id", "--actor-name"}
)
_GLOBAL_FLAGS = frozenset({"-v", "--verbose"})
_FORMATS = ("table", "json")


def printable(text: str) -> str:
    """Bytes that were not UTF-8 (kept as surrogates) shown as U+FFFD instead of crashing print."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def shown(path: Path, cwd: Path) -> str:
    """``path`` relative to the current directory when it lies below it."""
    if path.is_absolute() and path.is_relative_to(cwd):
        return os.fspath(path.relative_to(cwd))
    return os.fspath(path)


def _lines(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8", "surrogateescape")
    return [line.removesuffix("\r") for line in text.split("\n")]


def _with_context(hits: list[Hit], cwd: Path) -> Iterable[str]:
    """grep -C1 layout: ``path:line: text`` for hits, ``path-line- text`` around them, ``--``
    between groups that do not touch."""
    by_path: dict[Path, set[int]] = {}
    for hit in hits:
        by_path.setdefault(hit.path, set()).add(hit.line)
    first = True
    for path, hit_lines in by_path.items():
        lines, name = _lines(path), shown(path, cwd)
        wanted = sorted({n + d for n in hit_lines for d in (-1, 0, 1) if 1 <= n + d <= len(lines)})
        previous = None
        for n in wanted:
            if not first and (previous is None or n > previous + 1):
                yield "--"
            first, previous = False, n
            mark = ":" if n in hit_lines else "-"
            yield f"{name}{mark}{n}{mark} {lines[n - 1]}"


def _plain(hits: list[Hit], cwd: Path) -> Iterable[str]:
    seen: set[tuple[Path, int]] = set()
    for hit in hits:  # two tags on one line: the line is shown once, as grep does
        if (hit.path, hit.line) not in seen:
            seen.add((hit.path, hit.line))
            yield f"{shown(hit.path, cwd)}:{hit.line}: {hit.text}"


def run(
    pattern: str, paths: Sequence[Path], *, tags_only: bool, context: bool, as_json: bool
) -> int:
    """Find and print; the exit code (2 with one line on stderr for a bad pattern or path)."""
    cwd = Path.cwd()
    try:
        hits = find(pattern, list(paths) or default_paths(cwd), tags_only=tags_only)
    except InvalidInput as error:
        sys.stderr.write(printable(f"Error: {error.message}") + "\n")
        return EXIT_USAGE
    if as_json:
        rows = [
            {"path": shown(hit.path, cwd), "line": hit.line, "tag": hit.tag, "text": hit.text}
            for hit in hits
        ]
        sys.stdout.write(printable(json.dumps(rows, indent=2, ensure_ascii=False)) + "\n")
    elif hits:
        lines = _with_context(hits, cwd) if context else _plain(hits, cwd)
        sys.stdout.write(printable("\n".join(lines)) + "\n")
    sys.stdout.flush()
    return EXIT_OK


@dataclass(frozen=True, slots=True)
class FindArgs:
    pattern: str
    paths: list[Path]
    tags_only: bool = False
    context: bool = False
    as_json: bool = False


def _option_value(argv: Sequence[str], i: int) -> tuple[str | None, int]:
    """The value of the option at ``argv[i]`` (``-f json``, ``--format=json``, ``-fjson``) and
    the index after it; None when the line ends first."""
    token = argv[i]
    name, has_value, value = token.partition("=")
    if token in ("-f", "-u") or (name.startswith("--") and not has_value):
        return (argv[i + 1], i + 2) if i + 1 < len(argv) else (None, i + 1)
    if name.startswith("--"):
        return value, i + 1
    return token[2:], i + 1  # glued to a short option, as click reads it


def _is_global_with_value(token: str) -> bool:
    name = token.partition("=")[0]
    return name in _GLOBAL_VALUE or name == "--format" or token[:2] in ("-f", "-u")


def parse(argv: Sequence[str]) -> FindArgs | None:
    """``ats`` arguments → FindArgs when they are a ``tag find`` this module fully understands."""
    words: list[str] = []
    flags = {"--tags-only": False, "--context": False}
    fmt, i, only_words = "table", 0, False
    while i < len(argv):
        token = argv[i]
        if only_words or token == "-" or not token.startswith("-"):
            words.append(token)
            i += 1
        elif token == "--" and words[:2] == ["tag", "find"]:
            only_words, i = True, i + 1
        elif _is_global_with_value(token):
            value, i = _option_value(argv, i)
            if value is None:
                return None
            if token[:2] == "-f" or token.partition("=")[0] == "--format":
                if value not in _FORMATS:
                    return None
                fmt = value
        elif token in _GLOBAL_FLAGS:
            i += 1
        elif words[:2] == ["tag", "find"] and token in ("--tags-only", "--context", "-C"):
            flags["--context" if token == "-C" else token] = True
            i += 1
        else:  # --help, a typo, a combined -Cv …: typer says what it says
            return None
    if len(words) < 3 or words[:2] != ["tag", "find"]:
        return None
    paths = [Path(word) for word in words[3:]]
    return FindArgs(words[2], paths, flags["--tags-only"], flags["--context"], fmt == "json")


def fast_main(argv: Sequence[str]) -> int | None:
    """Run ``ats ARGV`` when it is a ``tag find`` understood here: the exit code; else None."""
    args = parse(argv)
    if args is None:
        return None
    return run(
        args.pattern,
        args.paths,
        tags_only=args.tags_only,
        context=args.context,
        as_json=args.as_json,
    )


if __name__ == "__main__":
    code = fast_main(["tag", "find", *sys.argv[1:]])
    if code is None:
        sys.stderr.write("usage: python -m ats.cli.tag_find PATTERN [PATHS]... [--tags-only]\n")
        code = EXIT_USAGE
    sys.exit(code)
