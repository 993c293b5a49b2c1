"""Placeholder: the compass stream reader (being written)."""
