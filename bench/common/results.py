"""Where every suite writes its JSON (``bench/results/``, git-ignored) and which ATS code it
measured."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ats

RESULTS = Path(__file__).resolve().parent.parent / "results"


def source_version() -> dict[str, str]:
    """Which ATS code was measured (PYTHONPATH may point at another checkout)."""
    src = Path(ats.__file__).resolve().parent
    git = ["git", "-C", str(src)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "."], capture_output=True, text=True)
    return {
        "ats_source": str(src),
        "commit": head.stdout.strip() or "unknown",
        "dirty": "yes" if dirty.stdout.strip() else "no",
    }
