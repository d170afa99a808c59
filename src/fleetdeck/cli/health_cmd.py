"""``fleetdeck health``: a headless look at current health, as a table or NDJSON, once or watching."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from fleetdeck.cli.inventory_cmds import load, select
from fleetdeck.cli.output import print_table
from fleetdeck.core.health.collector import CollectorSettings
from fleetdeck.core.health.sample import HealthSample
from fleetdeck.core.health.watch import build_collector, collect_once, collecting
from fleetdeck.core.paths import state_dir
from fleetdeck.core.transport.rlimit import raise_nofile


def sample_json(sample: HealthSample) -> dict[str, Any]:
    """The NDJSON object of one sample: plain metric names, null where unknown."""
    doc: dict[str, Any] = {
        "host": sample.host,
        "time": round(sample.time, 3),
        "status": sample.status,
        "reason": sample.reason,
    }
    for key in (
        "cpu_pct", "cpu_user_pct", "cpu_system_pct", "cpu_iowait_pct", "cpu_steal_pct", "load1", "load5",
        "load15", "cores", "mem_used_pct", "mem_total_bytes", "mem_available_bytes", "swap_used_pct",
        "net_rx_bps", "net_tx_bps", "disk_read_bps", "disk_write_bps", "uptime_s", "procs", "kernel", "os_name",
    ):  # fmt: skip
        value = getattr(sample, key)
        doc[key] = round(value, 2) if isinstance(value, float) else value
    doc["worst_disk_pct"] = sample.worst_disk_pct
    doc["cpu_per_core_pct"] = [round(v, 1) for v in sample.cpu_per_core_pct]
    doc["net_interfaces"] = [
        {"name": n.name, "rx_bps": n.rx_bps and round(n.rx_bps, 1), "tx_bps": n.tx_bps and round(n.tx_bps, 1)}
        for n in sample.net_interfaces
    ]
    doc["filesystems"] = [
        {"mount": f.mount, "fstype": f.fstype, "size_bytes": f.size_bytes, "used_bytes": f.used_bytes,
         "used_pct": round(f.used_pct, 1),
         "inodes_used_pct": None if f.inodes_used_pct is None else round(f.inodes_used_pct, 1)}
        for f in sample.filesystems
    ]  # fmt: skip
    return doc


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h" if days else f"{hours}h {rest // 60}m"


def _rate(bps: float | None) -> str:
    if bps is None:
        return "-"
    for unit in ("B", "K", "M", "G"):
        if bps < 1024:
            return f"{bps:.0f}{unit}"
        bps /= 1024
    return f"{bps:.0f}T"


def table_rows(samples: list[HealthSample]) -> list[tuple[str, ...]]:
    """The rows of the health table."""
    rows: list[tuple[str, ...]] = [("HOST", "STATUS", "CPU", "MEM", "DISK", "LOAD", "NET RX/TX", "UPTIME", "REASON")]
    for s in samples:
        load = "-" if s.load1 is None else f"{s.load1:.2f}/{s.cores or '?'}"
        net = f"{_rate(s.net_rx_bps)}/{_rate(s.net_tx_bps)}"
        rows.append((s.host, s.status, _pct(s.cpu_pct), _pct(s.mem_used_pct), _pct(s.worst_disk_pct), load, net,
                     _uptime(s.uptime_s), s.reason or ""))  # fmt: skip
    return rows


def cmd_health(args: argparse.Namespace) -> int:
    """Collect health for the selected hosts; print once (or keep printing with ``--watch``)."""
    config = load(args, scope="engine")
    hosts = select(config, args.targets)
    if not hosts:
        print(f'fleetdeck: selector "{args.targets}" matches no hosts', file=sys.stderr)
        return 64
    raise_nofile()
    settings = CollectorSettings.for_interval(args.interval)
    names = [h.name for h in hosts]

    async def watch() -> int:
        latest: dict[str, HealthSample] = {}

        def on_sample(sample: HealthSample) -> None:
            latest[sample.host] = sample
            if args.json:
                sys.stdout.write(json.dumps(sample_json(sample)) + "\n")
                sys.stdout.flush()

        collector = build_collector(config.inventory, hosts, on_sample, state=state_dir(), settings=settings)
        async with collecting(collector):
            while True:
                await asyncio.sleep(settings.interval_s)
                if not args.json:
                    _redraw([latest[n] for n in names if n in latest])

    async def go() -> int:
        if args.watch:
            return await watch()
        samples = await collect_once(config.inventory, hosts, state=state_dir(), settings=settings)
        if args.json:
            for sample in samples:
                print(json.dumps(sample_json(sample)))
        else:
            print_table(table_rows(samples), sys.stdout)
        return 0 if all(s.status == "up" for s in samples) else 1

    try:
        return asyncio.run(go())
    except KeyboardInterrupt:
        return 0


def _redraw(samples: list[HealthSample]) -> None:
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[H\x1b[2J")
    print_table(table_rows(samples), sys.stdout)
    sys.stdout.flush()
