"""ATS, the Agent Task Service."""

__version__ = "0.1.0"
