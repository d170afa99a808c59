"""Rolling batches and the failure budget, with Ansible's ``serial`` / ``max_fail_percentage`` semantics.

``batches = [1, "25%", "100%"]`` runs one host, then a quarter of all hosts, then the rest; the last
entry repeats until every host has run. A percentage is of all hosts, rounded down, at least one.
The failure budget (``max_fail``) is checked after each batch; without one, a batch in which every
host failed halts the run, as Ansible does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _count(value: int | str, total: int) -> int:
    if isinstance(value, int):
        return value
    return math.floor(float(value.rstrip("%")) * total / 100)


def batch_sizes(spec: Sequence[int | str], total: int) -> list[int]:
    """Sizes of the successive batches for ``total`` hosts (one batch of all when ``spec`` is empty)."""
    if total <= 0:
        return []
    if not spec:
        return [total]
    sizes: list[int] = []
    remaining = total
    index = 0
    while remaining > 0:
        size = max(1, _count(spec[min(index, len(spec) - 1)], total))
        size = min(size, remaining)
        sizes.append(size)
        remaining -= size
        index += 1
    return sizes


def split_batches(items: Sequence[str], spec: Sequence[int | str]) -> list[list[str]]:
    """``items`` cut into batches by :func:`batch_sizes`, order kept."""
    out: list[list[str]] = []
    start = 0
    for size in batch_sizes(spec, len(items)):
        out.append(list(items[start : start + size]))
        start += size
    return out


def allowed_failures(max_fail: int | str | None, total: int) -> int | None:
    """How many failed hosts the run tolerates (None: the all-of-a-batch-failed rule applies)."""
    if max_fail is None:
        return None
    return _count(max_fail, total)


def should_halt(failed_so_far: int, batch_failed: int, batch_size: int, allowed: int | None) -> bool:
    """Whether the remaining batches must not start."""
    if allowed is None:
        return batch_size > 0 and batch_failed == batch_size
    return failed_so_far > allowed
