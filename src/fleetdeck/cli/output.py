"""Plain-text tables for the headless commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO


def print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Left-aligned columns two spaces apart; the first row is the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
