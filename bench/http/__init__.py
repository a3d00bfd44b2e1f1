"""HTTP throughput of ``ats serve`` next to the store ceiling: ``python -m bench run http``."""
