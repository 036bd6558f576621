"""Helpers for scripts/bench.py (not part of the installed package)."""
