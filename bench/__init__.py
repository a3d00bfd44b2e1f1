"""ATS benchmarks: programs, not tests (HOUSE_STYLE §12). One package per suite; run them with
``python -m bench`` (see bench/README.md)."""
