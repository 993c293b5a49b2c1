"""Placeholder: the llama stream reader (being written)."""
