"""``fleetdeck run`` and ``fleetdeck exec``: plan, confirm, run on many hosts, print, exit with the run's code.

Output goes to sinks chosen by flags: live ``host | line`` (default), ``--gather`` (clush -b style groups
at the end), or ``--json`` (NDJSON events). Every run is also recorded in the store. Ctrl+C cancels the
run (remote processes are killed); a second Ctrl+C stops waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import signal
import sys
from typing import Any

from fleetdeck.cli.inventory_cmds import load
from fleetdeck.core.errors import UsageError
from fleetdeck.core.runner.events import Sink
from fleetdeck.core.runner.service import Engine, Prepared
from fleetdeck.core.runner.sinks import GatherPrinterSink, NdjsonSink, PrinterSink, ProgressLine
from fleetdeck.core.tasks.params import env_name, parse_assignments


def cmd_run(args: argparse.Namespace) -> int:
    """Run a saved task (or print its plan with ``--dry-run``)."""
    config = load(args, scope="engine")
    engine = Engine(config, max_hosts=args.max_hosts, max_handshakes=args.max_handshakes)
    given = parse_assignments(args.param)
    if args.dry_run:
        prepared = engine.prepare_task(args.task, args.targets, given, dry_run=True)
        return print_dry_run(prepared, as_json=args.json)
    task = config.tasks.get(args.task)
    env = dict(os.environ)
    if task is not None:
        for name, param in task.params.items():
            key = env_name(name, secret=True)
            if param.type == "secret" and name not in given and key not in env and sys.stdin.isatty():
                env[key] = getpass.getpass(f"{task.name}: secret {name}: ")
    prepared = engine.prepare_task(args.task, args.targets, given, env=env, run_id=engine.new_run_id())
    if prepared.task is not None and prepared.task.dangerous and not args.yes:
        confirm_dangerous(prepared)
    return execute(engine, prepared, args)


def cmd_exec(args: argparse.Namespace) -> int:
    """Run an ad-hoc command on the selected hosts."""
    command = " ".join(args.words).strip()
    config = load(args, scope="engine")
    engine = Engine(config, max_hosts=args.max_hosts, max_handshakes=args.max_handshakes)
    prepared = engine.prepare_command(
        command,
        args.targets,
        timeout=args.timeout,
        no_output_timeout=args.no_output_timeout,
        run_id="dry-run" if args.dry_run else engine.new_run_id(),
    )
    if args.dry_run:
        return print_dry_run(prepared, as_json=args.json)
    return execute(engine, prepared, args)


def confirm_dangerous(prepared: Prepared) -> None:
    """Ask to type the task's name on a terminal; refuse without ``--yes`` elsewhere."""
    task = prepared.task
    assert task is not None
    hosts = len(prepared.plans)
    if not sys.stdin.isatty():
        raise UsageError(f"task {task.name} is marked dangerous: confirm on a terminal or pass --yes")
    print(
        f"task {task.name} is marked dangerous and will run on {hosts} host{'s' if hosts != 1 else ''}.",
        file=sys.stderr,
    )
    answer = input(f"type the task name ({task.name}) to go on: ").strip()
    if answer != task.name:
        raise UsageError(f"not confirmed: expected {task.name!r}, got {answer!r}; nothing was run")


def make_sinks(args: argparse.Namespace) -> list[Sink]:
    """The output sinks the flags ask for (the store is added by the engine)."""
    color = False if args.no_color else None
    if args.json:
        return [NdjsonSink(sys.stdout)]
    progress = ProgressLine(sys.stderr)
    main: Sink
    if args.gather:
        main = GatherPrinterSink(sys.stdout, sys.stderr, color=color, progress=progress)
    else:
        main = PrinterSink(sys.stdout, sys.stderr, color=color, progress=progress)
    return [main, progress]


def execute(engine: Engine, prepared: Prepared, args: argparse.Namespace) -> int:
    """Run with Ctrl+C wired to cancel; returns the run's exit code."""
    if engine.fanout_warning:
        print(f"fleetdeck: {engine.fanout_warning}", file=sys.stderr)

    async def go() -> int:
        loop = asyncio.get_running_loop()
        interrupts = [0]

        def on_sigint() -> None:
            interrupts[0] += 1
            if interrupts[0] == 1:
                print("\nfleetdeck: cancelling (Ctrl+C again to stop waiting)", file=sys.stderr)
                engine.cancel()
            else:
                raise KeyboardInterrupt

        loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            summary = await engine.run(prepared, make_sinks(args))
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            await engine.close()
        return summary.exit_code

    return asyncio.run(go())


def print_dry_run(prepared: Prepared, *, as_json: bool) -> int:
    """Print, per host, the exact commands the run would send."""
    request = prepared.request
    plans = prepared.plans
    task = prepared.task
    if as_json:
        out: list[dict[str, Any]] = [
            {
                "host": p.host.name,
                "address": p.host.address,
                "transport": p.host.transport,
                "steps": [
                    {
                        "name": s.name,
                        "command": s.command,
                        "stdin_secrets": list(s.secrets),
                        "script": str(s.script) if s.script else None,
                    }
                    for s in p.steps
                ],
                "on_failure": p.on_failure.command if p.on_failure else None,
            }
            for p in plans
        ]
        doc = {"task": request.task, "params": dict(request.params), "selector": request.selector, "hosts": out}
        json.dump(doc, sys.stdout, indent=2)
        print()
        return 0
    n = len(plans)
    danger = ", dangerous: asks to confirm" if task is not None and task.dangerous else ""
    what = f"task {request.task}" if task else "exec"
    print(f"# {what} on {n} host{'s' if n != 1 else ''} ({request.selector}){danger}")
    if request.batches:
        print(f"# batches {list(request.batches)}, max_fail {request.max_fail}")
    for plan in plans:
        where = "local" if plan.host.is_local else f"{plan.host.user}@{plan.host.address}:{plan.host.port}"
        print(f"{plan.host.name} ({where})")
        for i, step in enumerate(plan.steps, 1):
            print(f"  [{i}/{len(plan.steps)} {step.name}] {step.describe()}")
        if plan.on_failure:
            print(f"  [on failure] {plan.on_failure.describe()}")
    return 0
