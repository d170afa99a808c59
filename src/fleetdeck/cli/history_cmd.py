"""``fleetdeck history``: past runs, one run's hosts, or one host's output byte for byte."""

from __future__ import annotations

import argparse
import json
import sys

from fleetdeck.cli.output import print_table
from fleetdeck.core.automation.triggers import run_trigger
from fleetdeck.core.paths import state_dir
from fleetdeck.core.store import RunRecord, RunStore


def started_by(run: RunRecord) -> str:
    """Who started a run: ``auto RULE`` (remediation), ``sched NAME`` (schedule), else the user."""
    trigger = run_trigger(run.automatic, run.reason)
    if trigger is None:
        return run.user or "-"
    label = {"remediation": "auto", "schedule": "sched"}.get(trigger.kind, "auto")
    return f"{label} {trigger.name}".strip()


def cmd_history(args: argparse.Namespace) -> int:
    """List runs, show one, or replay one host's output."""
    with RunStore(state_dir()) as store:
        if args.run is None:
            runs = store.list_runs(limit=args.limit)
            if args.json:
                json.dump([r.to_json() for r in runs], sys.stdout, indent=2)
                print()
                return 0
            rows = [("RUN", "STARTED", "TASK", "STATUS", "HOSTS", "SELECTOR", "BY")]
            for r in runs:
                started = str(r.to_json()["started"])[:19].replace("T", " ")
                rows.append((r.id, started, r.task, r.status, str(len(r.hosts)), r.selector, started_by(r)))
            if len(rows) == 1:
                print("no runs recorded yet", file=sys.stderr)
                return 0
            print_table(rows, sys.stdout)
            return 0
        run = store.get_run(args.run)
        if args.host:
            out, err = sys.stdout.buffer, sys.stderr.buffer
            for stream, data in store.iter_output(run.id, args.host):
                target = out if stream == "stdout" else err
                target.write(data)
                target.flush()
            return 0
        results = store.host_results(run.id)
        if args.json:
            json.dump({"run": run.to_json(), "hosts": [h.to_json() for h in results]}, sys.stdout, indent=2)
            print()
            return 0
        started = str(run.to_json()["started"])
        by = started_by(run)
        print(f"run {run.id}  {run.task}  {run.status}  started {started}  selector {run.selector}  by {by}")
        if run.automatic and run.reason:
            print(f"reason: {run.reason}")
        host_rows = [("HOST", "STATUS", "RC", "DURATION", "BYTES", "OUTPUT / ERROR")]
        for h in results:
            rc = "" if h.exit_status is None else str(h.exit_status)
            dur = "" if h.duration_s is None else f"{h.duration_s:.2f}s"
            where = h.error or f"{store.output_stem(run.id, h.host)}.out"
            host_rows.append((h.host, h.status, rc, dur, str(h.bytes_out + h.bytes_err), where))
        print_table(host_rows, sys.stdout)
        return 0
