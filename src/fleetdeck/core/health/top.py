"""Top processes of one host, on demand: what is eating the CPU or the memory right now.

This is not part of the periodic collection (it costs a process listing); the console's detail pane
and ``fleetdeck top`` ask for it. Local hosts use psutil; SSH hosts run one ``ps`` over the pooled
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Literal

import psutil

from fleetdeck.core.inventory import Host
from fleetdeck.core.transport import Transports

SortKey = Literal["cpu", "mem"]
PS_COMMAND = "LC_ALL=C ps -eo pid=,user=,pcpu=,pmem=,rss=,args= --sort=-{key} | head -n {n}"


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """One process as ``top`` would list it."""

    pid: int
    user: str
    cpu_pct: float
    mem_pct: float
    rss_bytes: int
    command: str


class TopError(RuntimeError):
    """The process list could not be read; the message names the host and why."""


def parse_ps(text: str) -> list[ProcessInfo]:
    """Parse ``ps -eo pid=,user=,pcpu=,pmem=,rss=,args=`` output; malformed lines are skipped."""
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        try:
            pid, cpu, mem, rss = int(parts[0]), float(parts[2]), float(parts[3]), int(parts[4])
        except ValueError:
            continue
        command = parts[5].strip() if len(parts) > 5 else ""
        out.append(ProcessInfo(pid, parts[1], cpu, mem, rss * 1024, command))
    return out


def _local_top(n: int, key: SortKey, sample_s: float) -> list[ProcessInfo]:
    procs = list(psutil.process_iter(["pid", "username", "memory_percent", "memory_info", "cmdline", "name"]))
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(sample_s)
    out = []
    for p in procs:
        try:
            cpu = p.cpu_percent(None)
            info = p.info
        except psutil.Error:
            continue
        mem_info = info.get("memory_info")
        cmdline = info.get("cmdline") or []
        out.append(ProcessInfo(
            pid=int(info["pid"]),
            user=str(info.get("username") or "?"),
            cpu_pct=float(cpu),
            mem_pct=float(info.get("memory_percent") or 0.0),
            rss_bytes=int(mem_info.rss) if mem_info is not None else 0,
            command=" ".join(cmdline) if cmdline else f"[{info.get('name') or '?'}]",
        ))  # fmt: skip
    out.sort(key=lambda p: p.cpu_pct if key == "cpu" else p.mem_pct, reverse=True)
    return out[:n]


async def top_processes(
    host: Host, transports: Transports, *, n: int = 15, key: SortKey = "cpu", sample_s: float = 0.5
) -> list[ProcessInfo]:
    """The ``n`` processes using the most CPU (or memory) on ``host``."""
    if host.is_local:
        return await asyncio.to_thread(_local_top, n, key, sample_s)
    out = bytearray()
    err = bytearray()

    def collect(stream: str, data: bytes) -> None:
        (out if stream == "stdout" else err).extend(data)

    command = PS_COMMAND.format(key="pcpu" if key == "cpu" else "pmem", n=n)
    result = await transports.for_host(host).execute(host, command, collect, timeout=20)
    rows = parse_ps(out.decode(errors="replace"))
    if not rows:
        why = err.decode(errors="replace").strip() or f"ps exited with status {result.exit_status}"
        raise TopError(f"{host.name}: cannot list processes: {why} (needs procps ps)")
    return rows
