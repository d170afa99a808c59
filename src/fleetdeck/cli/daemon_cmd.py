"""``fleetdeck daemon`` (unattended automation) and ``fleetdeck remediation`` (approve queued repairs)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict

from fleetdeck.cli.inventory_cmds import load
from fleetdeck.cli.output import print_table
from fleetdeck.core.automation.daemon import run_daemon
from fleetdeck.core.automation.journal import make_logger
from fleetdeck.core.automation.remediation import ApprovalQueue
from fleetdeck.core.health.collector import CollectorSettings
from fleetdeck.core.paths import state_dir
from fleetdeck.core.runner.events import Sink
from fleetdeck.core.transport.rlimit import raise_nofile


def cmd_daemon(args: argparse.Namespace) -> int:
    """Run unattended until SIGTERM or SIGINT."""
    config = load(args)
    log = make_logger()
    raise_nofile()
    state = state_dir()
    notifier = None
    if config.notify.channels:
        from fleetdeck.core.notify.notifier import Notifier

        notifier = Notifier(config.notify, state)

    async def go() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        sinks = _run_sinks(config, notifier)
        return await run_daemon(config, state, log, stop, settings=CollectorSettings.for_interval(args.interval),
                                notifier=notifier, run_sinks=sinks)  # fmt: skip

    return asyncio.run(go())


def _run_sinks(config: object, notifier: object) -> Callable[[], list[Sink]]:
    """Sinks for automatic runs: tell the channels when a scheduled or remediation run fails."""
    if notifier is None:
        return list
    try:
        from fleetdeck.core.notify.runs import RunNotifySink
    except ImportError:  # pragma: no cover - notify is part of the package
        return list

    def make() -> list[Sink]:
        return [RunNotifySink(notifier.submit, on="failure")]  # type: ignore[attr-defined]

    return make


def cmd_remediation(args: argparse.Namespace) -> int:
    """List or decide remediations waiting for approval."""
    queue = ApprovalQueue(state_dir())
    if args.action == "list":
        requests = queue.list(None if args.all else "pending")
        if args.json:
            json.dump([asdict(r) | {"params": dict(r.params)} for r in requests], sys.stdout, indent=2)
            print()
            return 0
        if not requests:
            print("no remediation waiting for approval", file=sys.stderr)
            return 0
        rows = [("ID", "STATUS", "RULE", "TASK", "HOSTS", "REASON")]
        for r in requests:
            rows.append((str(r.id), r.status, r.rule, r.task, ",".join(r.hosts), r.reason))
        print_table(rows, sys.stdout)
        return 0
    request = queue.decide(args.id, approve=args.action == "approve", by=getpass.getuser())
    verb = "approved: the daemon starts it within a second" if request.status == "approved" else "denied"
    print(f"remediation #{request.id} ({request.task} on {','.join(request.hosts)}) {verb}")
    return 0
