"""ClusterShell-style node sets: the compact ``web[01-20,30]`` notation for many host names.

This module expands such patterns into plain names, folds lists of names back into the shortest
readable pattern (the inverse, like ``nodeset -f``), and provides the natural sort order and the
bracket-aware splitting that the host selector and the console's host lists build on. It is pure
string work with no I/O, so it is safe to call from anywhere in the engine.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

__all__ = [
    "MAX_EXPANSION",
    "NodeSetError",
    "expand",
    "fold",
    "natural_key",
    "split_top_level",
]

MAX_EXPANSION = 1_000_000
"""Most names one pattern may expand to; a typo like ``[1-10000000]`` must fail, not eat memory."""

_DIGIT_RUNS = re.compile(r"([0-9]+)")
_NUMBER = re.compile(r"[0-9]+")

# One numeric field after folding: (zero-padding width, sorted distinct values).
_Field = tuple[int, tuple[int, ...]]
# A parsed bracket item: (start, end, step, zero-padding width).
_Range = tuple[int, int, int, int]


class NodeSetError(ValueError):
    """A node-set pattern that cannot be expanded, or a name that cannot be folded.

    The pattern and the bare reason are kept apart so that callers embedding the pattern in a
    larger expression (the host selector) can reword the message without parsing it.
    """

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f'bad node set "{pattern}": {reason}')
        self.pattern = pattern
        self.reason = reason

    def __reduce__(self) -> tuple[type[NodeSetError], tuple[str, str]]:
        # The default reduce would call __init__ with the formatted message only.
        return type(self), (self.pattern, self.reason)


def natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key that orders embedded numbers by value, so ``web2`` sorts before ``web10``.

    Splitting on digit runs always alternates text and number, so elements at the same position
    have the same type and compare cleanly. The name itself breaks ties such as ``web01``/``web1``
    to keep the order total and deterministic.
    """
    parts = _DIGIT_RUNS.split(name)
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts)), name


def split_top_level(text: str, seps: str = ",") -> list[str]:
    """Split ``text`` at any character of ``seps`` that is not inside ``[...]``.

    Node sets use commas inside brackets (``web[1,3]``), so a naive split would cut them apart.

    Raises:
        NodeSetError: if the brackets are unbalanced.
    """
    parts: list[str] = []
    depth = 0
    opened_at = -1
    start = 0
    for index, char in enumerate(text):
        if char == "[":
            if depth == 0:
                opened_at = index
            depth += 1
        elif char == "]":
            if depth == 0:
                raise NodeSetError(text, f"unbalanced brackets: ']' at position {index} has no matching '['")
            depth -= 1
        elif depth == 0 and char in seps:
            parts.append(text[start:index])
            start = index + 1
    if depth:
        raise NodeSetError(text, f"unbalanced brackets: '[' at position {opened_at} is never closed")
    parts.append(text[start:])
    return parts


def expand(pattern: str) -> list[str]:
    """Expand a node-set pattern into host names, in the order written, without duplicates.

    ``web[01-03,05]`` gives ``web01 web02 web03 web05``; zero padding follows the bounds as
    written (``[1-10]`` is unpadded, ``[001-100]`` has width 3); ``[1-10/2]`` steps by 2;
    several bracket groups give their cartesian product (``rack[1-2]-n[1-3]``); top-level commas
    join several patterns (``web[1-2],db1``), which is what :func:`fold` produces. An empty or
    blank pattern expands to nothing.

    Raises:
        NodeSetError: if the pattern is malformed or expands to more than ``MAX_EXPANSION`` names.
    """
    if not pattern.strip():
        return []
    pieces: list[list[str | list[_Range]]] = []
    offset = 0
    for raw in split_top_level(pattern, ","):
        piece = raw.strip()
        if not piece:
            raise NodeSetError(pattern, f"empty element at position {offset}")
        pieces.append(_parse_piece(pattern, piece, offset + len(raw) - len(raw.lstrip())))
        offset += len(raw) + 1
    total = sum(_count(segments) for segments in pieces)
    if total > MAX_EXPANSION:
        raise NodeSetError(pattern, f"expands to {total:,} names, more than the limit of {MAX_EXPANSION:,}")
    names: dict[str, None] = {}
    for segments in pieces:
        choices = [(segment,) if isinstance(segment, str) else _render_ranges(segment) for segment in segments]
        names.update(dict.fromkeys("".join(combo) for combo in itertools.product(*choices)))
    return list(names)


def fold(names: Iterable[str]) -> str:
    """Fold host names into a compact node-set pattern, like ``nodeset -f``.

    Names are grouped by their text around the numbers, and numeric runs are folded into
    ranges one position at a time starting from the last number, so ``web01 web02 web03 web05``
    gives ``web[01-03,05]`` and a full grid folds to ``rack[1-2]-n[1-3]``. Padded and unpadded
    numbers are never merged into one range (``web01`` and ``web1`` are different hosts), but an
    unpadded number that needs no zeros at that width may continue a padded run (``web099
    web100`` gives ``web[099-100]``). Names without numbers are kept as they are. The folded sets are joined
    with ``,`` in natural order; ``expand`` of the result gives back the same names.

    Raises:
        NodeSetError: if a name is empty or contains ``[``, ``]`` or ``,``, which would make the
            result ambiguous.
    """
    plain: list[str] = []
    # First pass inline: names that agree on all but their last number, keyed by text and the
    # leading numbers, so the common one-number case never builds per-name tuples twice.
    last_numbers: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for name in dict.fromkeys(names):
        if not name or "[" in name or "]" in name or "," in name:
            raise NodeSetError(name, "a name to fold must be non-empty and contain no '[', ']' or ','")
        parts = _DIGIT_RUNS.split(name)
        if len(parts) == 1:
            plain.append(name)
        else:
            last_numbers.setdefault((tuple(parts[0::2]), tuple(parts[1:-2:2])), []).append(parts[-2])

    by_shape: dict[tuple[str, ...], list[tuple[str | _Field, ...]]] = {}
    for (texts, leading), values in last_numbers.items():
        items = by_shape.setdefault(texts, [])
        items.extend((*leading, field) for field in _fold_numbers(values))

    folded: list[tuple[tuple[tuple[str | int, ...], str], str]] = [(natural_key(name), name) for name in plain]
    for texts, items in by_shape.items():
        for fields in _fold_leading(items, len(texts) - 2):
            first = _join(texts, [_format_number(values[0], width) for width, values in fields])
            rendered = _join(texts, [_render_field(field) for field in fields])
            folded.append((natural_key(first), rendered))
    folded.sort()
    return ",".join(rendered for _, rendered in folded)


def _parse_piece(pattern: str, piece: str, offset: int) -> list[str | list[_Range]]:
    """Cut one comma-free pattern into literal text and parsed bracket groups."""
    segments: list[str | list[_Range]] = []
    position = 0
    while position < len(piece):
        opening = piece.find("[", position)
        if opening == -1:
            segments.append(piece[position:])
            break
        if opening > position:
            segments.append(piece[position:opening])
        closing = piece.find("]", opening)
        nested = piece.find("[", opening + 1, closing)
        if nested != -1:
            raise NodeSetError(pattern, f"nested '[' at position {offset + nested}")
        content = piece[opening + 1 : closing]
        if not content.strip():
            raise NodeSetError(pattern, f"empty brackets at position {offset + opening}")
        segments.append([_parse_range(pattern, item.strip(), content) for item in content.split(",")])
        position = closing + 1
    return segments


def _parse_range(pattern: str, item: str, content: str) -> _Range:
    """Parse ``5``, ``01-20`` or ``1-10/2`` into (start, end, step, width)."""
    if not item:
        raise NodeSetError(pattern, f"empty range in [{content}]")
    body, has_step, step_text = item.partition("/")
    low_text, has_dash, high_text = (part.strip() for part in body.partition("-"))
    if not _NUMBER.fullmatch(low_text) or (has_dash and not _NUMBER.fullmatch(high_text)):
        raise NodeSetError(pattern, f'range "{item}" is not numeric')
    if has_step:
        step_text = step_text.strip()
        if not has_dash:
            raise NodeSetError(pattern, f'step in "{item}" needs a range (start-end/step)')
        if not _NUMBER.fullmatch(step_text) or int(step_text) == 0:
            raise NodeSetError(pattern, f'step in "{item}" must be a positive integer')
    if not has_dash:
        high_text = low_text
    low, high = int(low_text), int(high_text)
    if low > high:
        raise NodeSetError(pattern, f"range start {low_text} is greater than end {high_text}")
    if _is_padded(high_text) and len(high_text) != len(low_text):
        raise NodeSetError(pattern, f"padding mismatch between {low_text} and {high_text}")
    width = len(low_text) if _is_padded(low_text) or _is_padded(high_text) else 0
    return low, high, int(step_text) if has_step else 1, width


def _is_padded(number: str) -> bool:
    """Tell whether a number is written with leading zeros (``05``; ``0`` alone is not)."""
    return len(number) > 1 and number[0] == "0"


def _count(segments: list[str | list[_Range]]) -> int:
    """Count the names a parsed piece expands to, without building them."""
    total = 1
    for segment in segments:
        if not isinstance(segment, str):
            total *= sum((high - low) // step + 1 for low, high, step, _ in segment)
    return total


def _render_ranges(ranges: list[_Range]) -> list[str]:
    """Spell out every number of one bracket group, padded as written."""
    return [_format_number(number, width) for low, high, step, width in ranges for number in range(low, high + 1, step)]


def _format_number(number: int, width: int) -> str:
    return str(number).zfill(width)


def _fold_leading(items: list[tuple[str | _Field, ...]], leading: int) -> list[tuple[_Field, ...]]:
    """Fold the numbers before the last one, for names that share the same surrounding text.

    Positions are folded from right to left; at each step the items that agree on every other
    position are merged, so a position is still a single number when its turn comes and the
    result is always an exact partition of the input names.
    """
    for position in reversed(range(leading)):
        groups: dict[tuple[str | _Field, ...], list[str]] = {}
        for item in items:
            value = item[position]
            assert isinstance(value, str)
            groups.setdefault(item[:position] + item[position + 1 :], []).append(value)
        items = [
            (*key[:position], field, *key[position:])
            for key, values in groups.items()
            for field in _fold_numbers(values)
        ]
    return [tuple(field for field in item if not isinstance(field, str)) for item in items]


def _fold_numbers(values: list[str]) -> list[_Field]:
    """Split written numbers into padding classes and sort each class.

    A padded number (``05``) belongs to its own width. An unpadded one may also sit in a padding
    class no wider than itself (``100`` next to ``099``), since ``expand`` writes it the same way;
    it goes where it continues a run, else to the widest such class, else to the unpadded one.
    """
    if len(values) == 1:
        # Most groups in sparse inventories hold one name; skip the class bookkeeping.
        value = values[0]
        return [(len(value) if value[0] == "0" and len(value) > 1 else 0, (int(value),))]
    if not any(value[0] == "0" and len(value) > 1 for value in values):
        return [(0, tuple(sorted(map(int, values))))]
    classes: dict[int, set[int]] = {}
    unpadded: list[tuple[int, int]] = []
    for value in values:
        if _is_padded(value):
            classes.setdefault(len(value), set()).add(int(value))
        else:
            unpadded.append((int(value), len(value)))
    padded_widths = sorted(classes)
    # Ascending order lets each number see whether its predecessor already chose a class.
    unpadded.sort()
    for number, length in unpadded:
        candidates = [width for width in padded_widths if width <= length]
        width = 0
        if candidates:
            width = next(
                (w for w in (0, *candidates) if number - 1 in classes.get(w, ())),
                candidates[-1],
            )
        classes.setdefault(width, set()).add(number)
    return [(width, tuple(sorted(members))) for width, members in classes.items()]


def _render_field(field: _Field) -> str:
    """Write one folded position: a bare number, or ``[a-b,c]`` ranges of consecutive values."""
    width, values = field
    if len(values) == 1:
        return _format_number(values[0], width)
    runs: list[tuple[int, int]] = []
    start = previous = values[0]
    for value in values[1:]:
        if value != previous + 1:
            runs.append((start, previous))
            start = value
        previous = value
    runs.append((start, previous))
    return (
        "["
        + ",".join(
            str(low).zfill(width) if low == high else f"{str(low).zfill(width)}-{str(high).zfill(width)}"
            for low, high in runs
        )
        + "]"
    )


def _join(texts: tuple[str, ...], fields: list[str]) -> str:
    """Interleave the fixed text of a name with its (possibly folded) numbers."""
    out = [texts[0]]
    for field, text in zip(fields, texts[1:], strict=True):
        out.append(field)
        out.append(text)
    return "".join(out)
