"""Open-file limit: every SSH connection and every running host's output files need descriptors.

The soft limit is raised to the hard limit at start; if even that caps the requested fan-out, the
caller is told with the numbers instead of failing later with "Too many open files".
"""

from __future__ import annotations

import resource

FDS_PER_HOST = 5  # socket, three output files, one spare for the channel's bookkeeping
RESERVED_FDS = 64  # the database, the terminal, Python itself


def raise_nofile() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def fanout_cap(max_hosts: int) -> tuple[int, str | None]:
    """The hosts in flight the fd limit allows, and a message when it is lower than asked."""
    soft = raise_nofile()
    cap = max(1, (soft - RESERVED_FDS) // FDS_PER_HOST)
    if cap >= max_hosts:
        return max_hosts, None
    return cap, (
        f"open-file limit {soft} allows {cap} hosts in flight, not {max_hosts} "
        f"({FDS_PER_HOST} descriptors per host); raise it with `ulimit -n` to go wider"
    )
