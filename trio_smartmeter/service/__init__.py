"""The running service: the supervision tree above the link (design.md §4)."""
