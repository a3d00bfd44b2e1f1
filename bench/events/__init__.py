"""Events: commit → WebSocket latency, fan-out, cost to creation: ``python -m bench run events``."""
