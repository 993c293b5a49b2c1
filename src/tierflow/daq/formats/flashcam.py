"""Placeholder: the flashcam stream reader (being written)."""
