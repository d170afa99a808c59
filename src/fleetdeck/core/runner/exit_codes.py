"""The exit status of a run for scripts: 0 when every host is ok, else an OR of bits saying what went wrong.

Bits: 2 a host failed (non-zero exit or a fleetdeck-side error), 4 unreachable / authentication / host
key, 8 timeout, 16 halted by the failure budget, 32 cancelled. Codes 1 (internal error), 64 (usage) and
78 (config) are never combined with them.
"""

from __future__ import annotations

from collections.abc import Iterable

FAILED = 2
UNREACHABLE = 4
TIMEOUT = 8
HALTED = 16
CANCELLED = 32

_BITS = {
    "ok": 0,
    "failed": FAILED,
    "error": FAILED,
    "unreachable": UNREACHABLE,
    "auth_failed": UNREACHABLE,
    "host_key_failed": UNREACHABLE,
    "timeout": TIMEOUT,
    "cancelled": CANCELLED,
}


def run_exit_code(statuses: Iterable[str], *, halted: bool = False) -> int:
    """OR the bits of each host's final status, plus the halt bit."""
    code = HALTED if halted else 0
    for status in statuses:
        code |= _BITS.get(status, FAILED)
    return code
