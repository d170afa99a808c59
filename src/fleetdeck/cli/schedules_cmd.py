"""``fleetdeck schedules``: every schedule with its next run and its last run."""

from __future__ import annotations

import argparse
import json
import sys

from fleetdeck.cli.inventory_cmds import load
from fleetdeck.cli.output import print_table
from fleetdeck.core.automation.scheduler import ScheduleState
from fleetdeck.core.paths import state_dir

STATE_FILE = "schedules-state.toml"


def cmd_schedules(args: argparse.Namespace) -> int:
    """List schedules, next run times (in each schedule's zone) and the last run."""
    from datetime import UTC, datetime

    config = load(args)
    state = ScheduleState(state_dir() / STATE_FILE)
    now = datetime.now(UTC)
    docs = []
    for s in config.schedules:
        last = state.last_fire(s.name)
        entry = state.data.get(s.name, {})
        docs.append({
            "name": s.name,
            "cron": s.cron,
            "timezone": s.timezone,
            "task": s.task,
            "targets": s.targets,
            "enabled": s.enabled,
            "missed": s.missed,
            "next_run": s.next_after(now).isoformat() if s.enabled else None,
            "last_fire": last.isoformat() if last else None,
            "last_run_id": entry.get("last_run_id"),
            "last_exit": entry.get("last_exit"),
        })  # fmt: skip
    if args.json:
        json.dump(docs, sys.stdout, indent=2)
        print()
        return 0
    if not docs:
        print(f"no schedules (add {config.dir / 'schedules.toml'})", file=sys.stderr)
        return 0
    rows = [("SCHEDULE", "CRON", "TASK", "TARGETS", "NEXT RUN", "LAST RUN")]
    for d in docs:
        last_run = "-" if d["last_run_id"] is None else f"{d['last_run_id']} (exit {d['last_exit']})"
        nxt = "disabled" if d["next_run"] is None else str(d["next_run"]).replace("T", " ")[:19] + f" {d['timezone']}"
        rows.append((str(d["name"]), str(d["cron"]), str(d["task"]), str(d["targets"] or "(task's)"), nxt, last_run))
    print_table(rows, sys.stdout)
    return 0
