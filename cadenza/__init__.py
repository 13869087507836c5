"""Cadenza: a local-first AI music and video studio."""

__version__ = "0.1.0"
