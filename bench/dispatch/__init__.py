"""The dispatcher: pickup latency, throughput vs raw spawn: ``python -m bench run dispatch``."""
