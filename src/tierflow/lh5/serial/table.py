"""Tables and waveform tables: a struct whose fields share their rows."""

from __future__ import annotations

from ...types import Table
from .base import Serializer

# --- reading ----------------------------------------------------------------------------------


# --- writing ----------------------------------------------------------------------------------


class TableSerializer(Serializer):
    kinds = ("table",)
    classes = (Table,)
