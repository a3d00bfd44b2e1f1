"""Find tags across a tree of Markdown files, fast.

Most files of a tree hold no candidate at all, so the walk is ``os.scandir`` on strings (no
``Path`` per file), each file is read as bytes and tested for the pattern's literal prefix
(``b'#delegated-'``) with ``in``; only the few that pass are decoded and run through the code-aware
scanner. Files that are not UTF-8 are decoded with surrogateescape: scanned, never rejected.
Reading is most of the cost (syscalls), so with many files a single-threaded caller (the CLI)
forks once and reads half of them in the child: ~25% faster on this 2-core box
(`python -m bench run tags`).

Stdlib only (``ats tag find`` is a hot path).
"""

from __future__ import annotations

import marshal
import os
import re
import stat
import sys
from collections.abc import Sequence, Set
from pathlib import Path

from ats.errors import InvalidInput
from ats.tags.grammar import compile_pattern, literal_prefix
from ats.tags.scan import Hit, scan

_SUFFIXES = (".md", ".markdown")
_CHUNK = 1 << 16
# Below this many files a fork (~2 ms, plus the copy-on-write faults) costs more than it saves.
_FORK_FROM = 1000


def default_paths(cwd: Path) -> list[Path]:
    """SPEC §8: ``sessions/`` when it exists, else the directory itself."""
    sessions = cwd / "sessions"
    return [sessions] if sessions.is_dir() else [cwd]


def _walk(top: str, found: list[str]) -> None:
    """Append the Markdown files under ``top``; hidden directories (.git, .ats) are skipped.

    Symlinked directories are not followed (no loops, no leaving the tree); symlinked files are.
    An unreadable directory is skipped, like the files nobody may read.
    """
    stack = [top]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not name.startswith("."):
                        stack.append(entry.path)
                elif name.lower().endswith(_SUFFIXES) and entry.is_file():
                    found.append(entry.path)


def _expand(paths: Sequence[Path]) -> tuple[list[str], set[str]]:
    """(every file to read, the ones named explicitly). InvalidInput for a missing path."""
    files: list[str] = []
    explicit: set[str] = set()
    for path in paths:
        name = os.fspath(path)
        try:
            mode = os.stat(name).st_mode
        except OSError:
            raise InvalidInput(f"{name}: no such file or directory", path=name) from None
        if stat.S_ISDIR(mode):
            _walk(name, files)
        elif stat.S_ISREG(mode):
            files.append(name)
            explicit.add(name)
        else:  # a FIFO or a device would block the read or never end
            raise InvalidInput(f"{name}: not a regular file", path=name)
    # A file reached twice (overlapping PATHS) is reported once.
    return list(dict.fromkeys(files)), explicit


def markdown_files(paths: Sequence[Path]) -> list[Path]:
    """The ``*.md`` / ``*.markdown`` files under ``paths``, sorted; explicit files as given."""
    files, _ = _expand(paths)
    return sorted(Path(name) for name in files)


def _read(name: str) -> bytes:
    # os.open + os.read costs half of open().read() (no FileIO / BufferedReader objects, no
    # fstat), and reading is most of a find. A short read of a regular file is its end.
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:
            return data
        parts = [data]
        while chunk := os.read(fd, _CHUNK * 16):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def scan_files(
    files: Sequence[str], pattern: re.Pattern[str], explicit: Set[str] = frozenset()
) -> list[Hit]:
    """Hits in ``files``; a file that cannot be read is skipped unless it was named explicitly."""
    prefix = literal_prefix(pattern).encode()
    hits: list[Hit] = []
    for name in files:
        try:
            data = _read(name)
        except OSError as error:
            if name in explicit:
                raise InvalidInput(f"{name}: cannot read ({error.strerror})", path=name) from None
            continue
        if prefix in data:  # most files hold no candidate: only these are decoded and scanned
            hits.extend(scan(data.decode("utf-8", "surrogateescape"), pattern, Path(name)))
    return hits


def _can_fork(files: Sequence[str]) -> bool:
    if len(files) < _FORK_FROM or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return False
    # Forking a process with other threads can deadlock the child on a lock one of them held
    # (a daemon calling find() from a watcher thread, say): only the single-threaded CLI forks.
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _scan_in_two(files: Sequence[str], pattern: re.Pattern[str], explicit: Set[str]) -> list[Hit]:
    """scan_files with half of the files in a forked child: reading is syscall-bound and two
    cores read twice as fast. Explicit files stay here, where their errors are raised."""
    half = len(files) // 2
    theirs = [name for name in files[half:] if name not in explicit]
    mine = [*files[:half], *(name for name in files[half:] if name in explicit)]
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return scan_files(files, pattern, explicit)
    if pid == 0:  # the child: scan, send the hits (marshal: no import, keeps surrogates), exit
        code = 1
        try:
            os.close(read_end)
            rows = [(os.fspath(h.path), h.line, h.column, h.tag, h.text, h.on_tags_line)
                    for h in scan_files(theirs, pattern)]  # fmt: skip
            view = memoryview(marshal.dumps(rows))
            while view:
                view = view[os.write(write_end, view) :]
            code = 0
        finally:
            os._exit(code)  # never run the parent's cleanup (atexit, buffered stdout) twice
    os.close(write_end)
    chunks = []
    try:
        hits = scan_files(mine, pattern, explicit)
        while chunk := os.read(read_end, 1 << 20):
            chunks.append(chunk)
    finally:  # on an error here too: the child's write fails (EPIPE) and it exits; reap it
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    if status != 0:  # the child failed: do its half here
        return hits + scan_files(theirs, pattern)
    rows = marshal.loads(b"".join(chunks))
    return hits + [Hit(Path(path), *rest) for path, *rest in rows]


def find(
    pattern: str | re.Pattern[str], paths: Sequence[Path], *, tags_only: bool = False
) -> list[Hit]:
    """Every real tag matching ``pattern`` under ``paths``, sorted by path then line.

    ``pattern`` is a tag or glob (compiled with compile_pattern) or an already compiled pattern.
    ``tags_only`` keeps the hits on a ``**Tags**:`` line.
    """
    regex = compile_pattern(pattern) if isinstance(pattern, str) else pattern
    files, explicit = _expand(paths)
    hits = (
        _scan_in_two(files, regex, explicit)
        if _can_fork(files)
        else scan_files(files, regex, explicit)
    )
    if tags_only:
        hits = [hit for hit in hits if hit.on_tags_line]
    hits.sort(key=lambda hit: (hit.path, hit.line, hit.column))
    return hits
