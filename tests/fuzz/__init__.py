"""Fuzz tier: schemathesis drives every operation of /openapi.json against a real server."""
