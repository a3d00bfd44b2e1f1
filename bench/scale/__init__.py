"""Growth: request latency at 10k → 100k → 1M tasks (SPEC §9.1): ``python -m bench run scale``."""
