"""``fleetdeck top HOST``: the processes using the most CPU or memory on one host right now."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

from fleetdeck.cli.inventory_cmds import load
from fleetdeck.cli.output import print_table
from fleetdeck.core.errors import UsageError
from fleetdeck.core.health.top import TopError, top_processes
from fleetdeck.core.paths import state_dir
from fleetdeck.core.transport import SshTransport, Transports
from fleetdeck.core.transport.hostkeys import KnownHosts


def cmd_top(args: argparse.Namespace) -> int:
    """Print one host's top processes."""
    config = load(args, scope="engine")
    try:
        host = config.inventory.get(args.host)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    transports = Transports(SshTransport(KnownHosts(state_dir() / "known_hosts"), config.inventory.get))

    async def go() -> int:
        try:
            procs = await top_processes(host, transports, n=args.n, key=args.by)
        except TopError as exc:
            print(f"fleetdeck: {exc}", file=sys.stderr)
            return 1
        finally:
            await transports.close()
        if args.json:
            json.dump([asdict(p) for p in procs], sys.stdout, indent=2)
            print()
            return 0
        rows = [("PID", "USER", "CPU%", "MEM%", "RSS", "COMMAND")]
        for p in procs:
            rows.append((str(p.pid), p.user, f"{p.cpu_pct:.1f}", f"{p.mem_pct:.1f}",
                         f"{p.rss_bytes / 1048576:.0f}M", p.command[:100]))  # fmt: skip
        print_table(rows, sys.stdout)
        return 0

    return asyncio.run(go())
