"""Race-safe edits of the tags in one Markdown file: swap (compare-and-swap), add, remove.

Every edit is ``replace_all``: take an exclusive lock, re-read the file, compute the new text, and
write it atomically (temp file in the same directory with the original's mode, fsync, rename,
fsync the directory). Of many concurrent swaps of one tag, exactly one finds it.

The lock is ``flock`` on the *parent directory*, not on the file: the file is replaced by a rename,
so a waiter holding the old inode would get the lock on a file nobody reads any more and act on
stale content. The directory's inode is stable across the rename, needs no sidecar file in the
user's tree, and serialises only edits within one directory (an edit takes milliseconds). Caveat:
flock on a directory does not work on NFS (EBADF); ATS trees are local. Replacing by rename also
means a hard link to the file keeps the old content, and extended attributes / ACLs are not
carried over (mode and, where allowed, owner are); a symlink is followed and its target edited.
The temp file is ``.NAME.<pid>.<random>.tmp`` next to the file: hidden, so tree walkers skip it.

Which files: any the user may write, by absolute or relative path from any working directory, as
with the reference's ``tag.sh`` (agents pass the paths ``tag find`` printed, or absolute ones);
the file's permissions are the boundary. A caller that wants one tree (``--root``, the
delegation commands and their scanned PATHS) passes ``within``.

Bytes are decoded as UTF-8 with surrogateescape, so a file that is not UTF-8 round-trips
unchanged; line endings, the final newline and every byte outside the edit stay as they were.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from ats.errors import InvalidInput
from ats.tags.grammar import check_tag, compile_pattern
from ats.tags.scan import first_outside, is_tags_line, line_bounds, real_matches, tags_line_match

# The directories this thread holds locked: a nested edit in the same directory (a ``changes``
# callback that edits a sibling) must not wait for itself. flock locks belong to the open file
# description, so a second open() of the directory would deadlock.
_held = threading.local()
_H1 = re.compile(r"^ {0,3}#(?:[ \t]|\r?$)", re.M)
_ANY_TAG = compile_pattern("*")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.M)


def _name(path: Path | str) -> str:
    return os.fspath(path)


def inside(path: Path | str, within: Sequence[Path]) -> bool:
    """Whether ``path``'s real file (symlinks resolved) lies under one of ``within``."""
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(os.path.realpath(base)) for base in within)


def _target(path: Path | str, within: Sequence[Path] | None) -> Path:
    """The real file to edit: symlinks resolved, an existing regular file, under one of
    ``within`` when given (None: anywhere — the file's permissions are the boundary)."""
    name = _name(path)
    real = Path(os.path.realpath(name))
    if within is not None and not inside(real, within):
        trees = ", ".join(os.path.realpath(base) for base in within) or "every tree"
        raise InvalidInput(f"{name}: outside {trees}, the tree ATS may edit", path=name)
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise InvalidInput(f"{name}: no such file", path=name) from None
    except OSError as error:
        raise InvalidInput(f"{name}: cannot access ({error.strerror})", path=name) from None
    if stat.S_ISDIR(mode):
        raise InvalidInput(f"{name}: is a directory, not a Markdown file", path=name)
    if not stat.S_ISREG(mode):
        raise InvalidInput(f"{name}: not a regular file", path=name)
    return real


@contextmanager
def _locked(directory: Path, name: str) -> Iterator[int]:
    """Hold the exclusive lock on ``directory``; yields its fd (for the fsync after a rename)."""
    held: dict[Path, int] = _held.__dict__.setdefault("dirs", {})
    if directory in held:
        yield held[directory]
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        message = f"{name}: cannot lock {directory} ({error.strerror})"
        raise InvalidInput(message, path=name) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held[directory] = fd
        yield fd
    finally:
        held.pop(directory, None)
        os.close(fd)  # closing the last fd of the description releases the lock


def _read(real: Path, name: str) -> tuple[os.stat_result, bytes]:
    try:
        # O_NONBLOCK: had the file become a FIFO while we waited, open() would hang.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as handle:
            like = os.fstat(fd)
            if not stat.S_ISREG(like.st_mode):
                raise InvalidInput(f"{name}: not a regular file", path=name)
            return like, handle.read()
    except FileNotFoundError:  # removed while we waited for the lock
        raise InvalidInput(f"{name}: no such file", path=name) from None
    except OSError as error:
        raise InvalidInput(f"{name}: cannot read ({error.strerror})", path=name) from None


def _write_atomic(real: Path, data: bytes, like: os.stat_result, dir_fd: int, name: str) -> None:
    # Hidden and in the same directory: the rename stays on one filesystem, and tree walkers
    # (find, watch) skip it. O_EXCL: never clobber someone else's file of that name.
    temp = real.with_name(f".{real.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise InvalidInput(f"{name}: cannot write ({error.strerror})", path=name) from None
    try:
        os.fchmod(fd, stat.S_IMODE(like.st_mode))
        if (like.st_uid, like.st_gid) != (os.geteuid(), os.getegid()):
            # Root editing someone's file must not take it over; others cannot, and need not.
            with suppress(OSError):
                os.fchown(fd, like.st_uid, like.st_gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temp, real)
    except BaseException as error:
        if fd >= 0:
            os.close(fd)
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise InvalidInput(f"{name}: cannot write ({error.strerror})", path=name) from None
        raise
    # The rename is durable only once the directory is; some filesystems refuse to fsync one,
    # and by now the edit is done, so that is no reason to report a failure.
    with suppress(OSError):
        os.fsync(dir_fd)


def replace_all(
    path: Path | str,
    changes: Callable[[str], str | None],
    *,
    within: Sequence[Path] | None = None,
) -> bool:
    """Locked read-modify-write of ``path``: ``changes(text)`` gives the new text, or None.

    Returns False (nothing written) when ``changes`` returns None, True otherwise (nothing is
    written either when the text comes back identical). ``changes`` runs under the lock, on the
    content as it is now. ``path`` is absolute or relative to the current directory; with
    ``within``, its real file (symlinks resolved) must lie under one of those trees. InvalidInput
    for a path outside them, a missing file, a directory, a file that cannot be read or written.
    """
    name = _name(path)
    real = _target(path, within)
    with _locked(real.parent, name) as dir_fd:
        like, data = _read(real, name)
        text = data.decode("utf-8", "surrogateescape")
        new = changes(text)
        if new is None:
            return False
        if new != text:
            _write_atomic(real, new.encode("utf-8", "surrogateescape"), like, dir_fd, name)
        return True


def _pick(text: str, tag: str) -> re.Match[str] | None:
    """The occurrence of ``tag`` to edit: the one on the Tags line, else the first inline one."""
    matches = real_matches(text, compile_pattern(tag))
    for m in matches:
        start, end = line_bounds(text, m.start())
        if is_tags_line(text[start:end]):
            return m
    return matches[0] if matches else None


def swap(path: Path | str, old: str, new: str, *, within: Sequence[Path] | None = None) -> bool:
    """Compare-and-swap: replace one real ``old`` tag by ``new``; False if ``old`` is not there."""
    old_tag, new_tag = check_tag(old), check_tag(new)

    def change(text: str) -> str | None:
        m = _pick(text, old_tag)
        return None if m is None else text[: m.start()] + new_tag + text[m.end() :]

    return replace_all(path, change, within=within)


def remove(path: Path | str, tag: str, *, within: Sequence[Path] | None = None) -> bool:
    """Remove one real ``tag`` (and the space before it); False if it is not there."""
    checked = check_tag(tag)

    def change(text: str) -> str | None:
        m = _pick(text, checked)
        if m is None:
            return None
        start, end = m.start(), m.end()
        line_start, line_end = line_bounds(text, start)
        before, after = text[line_start:start], text[end:line_end]
        # '#a, #b': removing #a takes ', ' after it; removing #b the ', ' before it.
        if after.startswith(", "):
            end += 2
        elif before.endswith((", ", " ")):
            start -= 2 if before.endswith(", ") else 1
        elif after.startswith(" "):
            end += 1
        return text[:start] + text[end:]

    return replace_all(path, change, within=within)


def add(path: Path | str, tag: str, *, within: Sequence[Path] | None = None) -> bool:
    """Add ``tag`` at the end of the Tags line (created after the H1 when missing).

    False, nothing written, when the file already carries the tag (on the Tags line or inline).
    """
    checked = check_tag(tag)

    def change(text: str) -> str | None:
        if real_matches(text, compile_pattern(checked)):
            return None
        return with_tag(text, checked)

    return replace_all(path, change, within=within)


def with_tag(text: str, tag: str) -> str:
    """``text`` with ``tag`` appended to its Tags line, or a new Tags line ``**Tags**: #tag``."""
    marker = tags_line_match(text)
    if marker is not None:
        return _append_to_line(text, marker.end(), tag)
    newline = "\r\n" if "\r\n" in text[: text.find("\n") + 1] else "\n"
    at = _new_line_at(text)
    line = f"**Tags**: {tag}"
    if at == len(text):  # after the last line: keep "no final newline" as it was
        if text and not text.endswith("\n"):
            return f"{text}{newline}{line}"
        return f"{text}{line}{newline}"
    rest = text[at:]
    # A line of prose right below would join the Tags line into one paragraph: keep a blank line.
    gap = "" if rest.startswith(("\n", "\r\n")) else newline
    return f"{text[:at]}{line}{newline}{gap}{rest}"


def _append_to_line(text: str, marker_end: int, tag: str) -> str:
    _, line_end = line_bounds(text, marker_end)
    tags = real_matches(text[marker_end:line_end], _ANY_TAG)
    if tags:
        at = marker_end + tags[-1].end()
        # Follow the line's own separator: '#a, #b' gets ', #new', '#a #b' gets ' #new'.
        comma = len(tags) > 1 and "," in text[marker_end + tags[-2].end() : at]
        insert = (", " if comma else " ") + tag
    else:
        at = marker_end + 1 if text[marker_end : marker_end + 1] == " " else marker_end
        insert = tag if at > marker_end else " " + tag
    if at < line_end and not text[at].isspace():
        insert += " "  # '**Tags**: <!-- claim -->' keeps its comment apart
    return text[:at] + insert + text[at:]


def _line_after(text: str, offset: int) -> int:
    end = text.find("\n", offset)
    return len(text) if end < 0 else end + 1


def _new_line_at(text: str) -> int:
    """Where a new Tags line goes: after the H1, else after the front matter, else at the top."""
    body = 0
    if text.startswith(("---\n", "---\r\n")):  # YAML front matter: its '# comments' are no H1
        close = _FRONT_MATTER_END.search(text, 4)
        if close is not None:
            body = _line_after(text, close.start())
    h1 = first_outside(text[body:], _H1)
    return body if h1 is None else _line_after(text, body + h1.start())
