"""What the run view's copy keys put on the clipboard, as plain functions (no Textual, unit-tested).

The clipboard travels as an OSC 52 escape sequence, base64-encoded, through the terminal (and tmux, and
SSH). Terminals cap what they accept (tmux's input buffer defaults to 1 MiB; several terminals take less
and drop a longer sequence silently), so a copy keeps the newest lines that fit in :data:`COPY_LIMIT_BYTES`
and says how many it left out; the full output is one "save" away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COPY_LIMIT_BYTES = 512 * 1024
"""Most UTF-8 bytes one copy sends: 700 KB once base64-encoded, under tmux's default 1 MiB input buffer."""


@dataclass(frozen=True, slots=True)
class Clip:
    """Text for the clipboard and what it holds.

    Attributes:
        text: The lines, each ending in a newline.
        lines: How many lines `text` holds.
        size: `text` in UTF-8 bytes.
        dropped: Older lines left out to stay under the limit.
    """

    text: str
    lines: int
    size: int
    dropped: int = 0


def clip_lines(lines: Sequence[str], limit: int = COPY_LIMIT_BYTES) -> Clip:
    """Join `lines` for the clipboard, keeping the newest that fit in `limit` bytes.

    A single newest line longer than the limit is cut to its last `limit` bytes (on a character boundary),
    so a copy is never empty when there was something to copy.
    """
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        cost = len(line.encode("utf-8", "surrogatepass")) + 1
        if size + cost > limit:
            if not kept:
                tail = line.encode("utf-8", "surrogatepass")[-(limit - 1) :].decode("utf-8", "ignore")
                kept.append(tail)
                size = len(tail.encode("utf-8", "surrogatepass")) + 1
            break
        kept.append(line)
        size += cost
    kept.reverse()
    text = "".join(f"{line}\n" for line in kept)
    return Clip(text, len(kept), size, len(lines) - len(kept))


def count_text(count: int, noun: str) -> str:
    """`1 line`, `12 lines`, `1,204 bytes`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def copy_message(clip: Clip, what: str, *, not_held: int = 0) -> str:
    """The notification after a copy: how many lines and bytes, and what is not in it.

    Args:
        clip: What was copied.
        what: What it was, e.g. ``web01's output``.
        not_held: Older lines the console no longer holds (they are in the run's files).
    """
    message = f"Copied {count_text(clip.lines, 'line')} ({count_text(clip.size, 'byte')}) of {what}."
    missing = []
    if clip.dropped:
        missing.append(f"the {count_text(clip.dropped, 'older line')} over the {COPY_LIMIT_BYTES // 1024} KiB limit")
    if not_held:
        missing.append(f"{count_text(not_held, 'earlier line')} the console no longer holds")
    if missing:
        message += f" Not included: {' and '.join(missing)}."
    return message
