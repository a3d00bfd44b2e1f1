"""Ways to take the disk away from a running SQLite server, as root or not.

- read-only: ``chattr +i`` on the database file and its WAL. A permission change would not do:
  the server holds both open already, and root ignores permissions anyway; the immutable flag
  stops every write, root's and through open handles. The ``-shm`` file is left alone: it is
  mapped into memory, and a write to a mapping of an immutable file is a SIGBUS, not an error.
  A read-only bind mount cannot be had either while the server has files open for writing
  (EBUSY).
- disk full: a small tmpfs holds the database and a filler file takes the rest of it (ENOSPC,
  SQLITE_FULL). Where nothing may be mounted, RLIMIT_FSIZE on the server process stands in (CPython
  ignores SIGXFSZ, so writes fail with EFBIG, SQLITE_IOERR) — the server sees a disk that takes
  no more bytes.

Mounting and ``chattr`` need root: as another user they go through ``sudo -n`` (CI runners).
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
from pathlib import Path

from tests.faults.harness import Server, cannot


class Unsupported(Exception):
    pass


def _privileged(*argv: str) -> None:
    cmd = list(argv) if os.geteuid() == 0 else ["sudo", "-n", *argv]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unsupported(f"{' '.join(cmd)}: {exc}") from None
    if done.returncode:
        raise Unsupported(f"{' '.join(cmd)}: {done.stderr.strip() or done.returncode}")


class Fault:
    """Where the database lives, and how the fault is put on and taken off."""

    name = "fault"
    mechanism = ""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "db"
        self.dir.mkdir()

    def apply(self, server: Server) -> None:
        raise NotImplementedError

    def lift(self, server: Server) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        """After the server stopped."""


class ReadOnly(Fault):
    name = "read-only"
    mechanism = "chattr +i on ats.db and ats.db-wal"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        probe = self.dir / "probe"
        probe.write_bytes(b"x")
        try:
            _privileged("chattr", "+i", str(probe))
            try:
                with probe.open("ab"):
                    raise Unsupported("chattr +i did not stop a write")
            except PermissionError:
                pass  # immutable, for root too
            finally:
                _privileged("chattr", "-i", str(probe))
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        self.files = [str(self.dir / "ats.db"), str(self.dir / "ats.db-wal")]

    def apply(self, server: Server) -> None:
        _privileged("chattr", "+i", *self.files)

    def lift(self, server: Server) -> None:
        _privileged("chattr", "-i", *self.files)

    def cleanup(self) -> None:
        with contextlib.suppress(Unsupported):
            _privileged("chattr", "-i", *[f for f in self.files if os.path.exists(f)])


class FullTmpfs(Fault):
    name = "disk-full"
    mechanism = "a 32 MiB tmpfs filled up (ENOSPC)"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        _privileged("mount", "-t", "tmpfs", "-o", "size=32m,mode=1777", "tmpfs", str(self.dir))
        self.filler = self.dir / "filler"

    def apply(self, server: Server) -> None:
        with self.filler.open("wb", buffering=0) as f:
            for size in (1 << 20, 4096):  # big pieces, then the last blocks
                with contextlib.suppress(OSError):  # ENOSPC
                    while True:
                        f.write(b"\0" * size)
        assert os.statvfs(self.dir).f_bavail == 0

    def lift(self, server: Server) -> None:
        self.filler.unlink()

    def cleanup(self) -> None:
        try:
            _privileged("umount", str(self.dir))
        except Unsupported:
            _privileged("umount", "-l", str(self.dir))


class FileSizeLimit(Fault):
    name = "disk-full"
    mechanism = "RLIMIT_FSIZE 0 on the server process (EFBIG)"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.saved: tuple[int, int] | None = None

    def apply(self, server: Server) -> None:
        assert server.proc is not None
        self.saved = resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (0, self.saved[1]))

    def lift(self, server: Server) -> None:
        assert server.proc is not None and self.saved is not None
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, self.saved)


def stage(name: str, tmp: Path) -> Fault:
    """The fault ``name``, by the best means this machine allows (or skip / fail in CI)."""
    if name == "read-only":
        try:
            return ReadOnly(tmp)
        except Unsupported as exc:
            cannot(f"cannot make a file immutable here (root or sudo, and chattr, needed): {exc}")
    try:
        return FullTmpfs(tmp)
    except Unsupported:
        (tmp / "db").rmdir()
        return FileSizeLimit(tmp)  # no mounting here: a file size limit has the same effect
