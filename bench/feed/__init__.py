"""Feed: publish throughput and publish → SSE latency: ``python -m bench run feed``."""
