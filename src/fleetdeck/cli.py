"""The ``fleetdeck`` command: the console by default, plus headless subcommands for scripts and CI.

This module parses arguments and prints; the work happens in :mod:`fleetdeck.core`. The UI is
imported only when the console starts, so headless commands never load Textual.
Exit codes: 0 ok, 1 internal error, 64 usage error (unknown host, bad parameter), 78 config error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from fleetdeck import __version__
from fleetdeck.core.config import Config, load_config
from fleetdeck.core.errors import ConfigError, FleetdeckError, UsageError
from fleetdeck.core.inventory import Host
from fleetdeck.core.paths import find_config_dir, state_dir, theme_dirs, user_config_dir
from fleetdeck.core.selector import SelectorError
from fleetdeck.core.tasks import bind_params, plan_task
from fleetdeck.core.tasks.params import parse_assignments


class _Parser(argparse.ArgumentParser):
    """argparse with the usage exit code scripts expect from fleetdeck (64, EX_USAGE) instead of 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(UsageError.exit_code, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``--config`` is global and goes before the subcommand."""
    parser = _Parser(
        prog="fleetdeck",
        description="Terminal ops console: watch hosts, run saved tasks over SSH. With no command, starts the console.",
    )
    parser.add_argument(
        "--config",
        metavar="DIR",
        help="config directory (default: $FLEETDECK_CONFIG, $XDG_CONFIG_HOME/fleetdeck, then the bundled samples)",
    )
    parser.add_argument("--version", action="version", version=f"fleetdeck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("console", help="start the console (the default)")
    sub.add_parser("check", help="validate the config; exit 78 with every problem listed")

    p = sub.add_parser("init", help="write a commented starting config into DIR")
    p.add_argument("dir", metavar="DIR")

    sub.add_parser("locate", help="print where config, state and themes live")

    p = sub.add_parser("hosts", help="list hosts matching a selector")
    p.add_argument(
        "selector",
        nargs="?",
        default="all",
        metavar="SELECTOR",
        help="e.g. web[01-05], @web&@prod, !db*, tag:dc=fra1 (default: all)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("tasks", help="list saved tasks")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("run", help="run a saved task (use --dry-run to print the exact commands)")
    p.add_argument("task", metavar="TASK")
    p.add_argument("-t", "--targets", metavar="SELECTOR", help="hosts to run on (default: the task's targets)")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter value (repeatable); secrets: use FLEETDECK_SECRET_<NAME> instead",
    )
    p.add_argument("--dry-run", action="store_true", help="print, per host, the commands that would run")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("import", help="convert an existing inventory into hosts.toml")
    isub = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for name, helptext, nargs in (
        ("ssh-config", "Host entries of an OpenSSH client config (default ~/.ssh/config)", "?"),
        ("ansible", "an Ansible INI or YAML inventory", None),
    ):
        ip = isub.add_parser(name, help=helptext)
        ip.add_argument("file", nargs=nargs, metavar="FILE")
        ip.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout (never overwrites)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    command = args.command or "console"
    handler = _COMMANDS[command]
    try:
        return handler(args)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"fleetdeck: {issue}", file=sys.stderr)
        return exc.exit_code
    except (FleetdeckError, SelectorError) as exc:
        for line in str(exc).splitlines():
            print(f"fleetdeck: {line}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, FleetdeckError) else UsageError.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `fleetdeck hosts | head`: the reader went away; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def cmd_console(args: argparse.Namespace) -> int:
    """Start the Textual console on the configured hosts."""
    config = _load(args)
    from fleetdeck.core.health.local import LocalHealthSource
    from fleetdeck.ui.app import FleetdeckApp

    local = [h.name for h in config.inventory if h.is_local]
    app = FleetdeckApp(LocalHealthSource(local), config_dir=config.dir, user_themes_dir=config.dir / "themes")
    app.run()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate everything and say what was checked."""
    config = _load(args)
    print(
        f"config OK: {config.dir} ({len(config.inventory)} hosts, {len(config.inventory.groups)} groups, "
        f"{len(config.tasks)} tasks)"
    )
    return 0


def cmd_locate(args: argparse.Namespace) -> int:
    """Print where fleetdeck reads and writes its files."""
    location = find_config_dir(args.config)
    rows = [
        ("config", f"{location.path}  (from {location.origin})"),
        ("user config", str(user_config_dir())),
        ("state", str(state_dir())),
        *(("themes", str(d)) for d in theme_dirs(location.path)),
    ]
    for key, value in rows:
        print(f"{key:<12} {value}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Write the commented sample config; refuse to overwrite anything."""
    from fleetdeck.core.config.init import write_sample_config

    written = write_sample_config(Path(args.dir))
    for path in written:
        print(f"wrote {path}")
    print(f"next: edit {Path(args.dir) / 'hosts.toml'}, then `fleetdeck --config {args.dir} check`")
    return 0


def _select(config: Config, selector: str) -> list[Host]:
    try:
        hosts = config.inventory.select(selector)
    except SelectorError as exc:
        raise UsageError(str(exc)) from None
    return hosts


def cmd_hosts(args: argparse.Namespace) -> int:
    """List hosts matching a selector."""
    config = _load(args)
    hosts = _select(config, args.selector)
    if args.json:
        json.dump([h.to_json() for h in hosts], sys.stdout, indent=2)
        print()
        return 0
    rows = [("HOST", "ADDRESS", "USER", "PORT", "VIA", "GROUPS")]
    for h in hosts:
        via = "local" if h.is_local else (f"jump:{h.jump}" if h.jump else "ssh")
        rows.append(
            (
                h.name,
                h.address,
                "" if h.is_local else h.user,
                "" if h.is_local else str(h.port),
                via,
                ",".join(h.groups),
            )
        )
    _print_table(rows, sys.stdout)
    print(f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}", file=sys.stderr)
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    """List saved tasks."""
    config = _load(args)
    if args.json:
        json.dump([t.to_json() for t in config.tasks.values()], sys.stdout, indent=2)
        print()
        return 0
    rows = [("TASK", "TARGETS", "PARAMS", "DESCRIPTION")]
    for t in config.tasks.values():
        params = " ".join(f"{p.name}{'' if p.required else '?'}" for p in t.params.values())
        flag = " (dangerous)" if t.dangerous else ""
        rows.append((t.name, t.targets or "-", params or "-", t.description + flag))
    _print_table(rows, sys.stdout)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Plan a task on its targets; with ``--dry-run`` print the exact commands per host."""
    config = _load(args)
    task = config.tasks.get(args.task)
    if task is None:
        known = ", ".join(config.tasks) or "none defined"
        raise UsageError(f'unknown task "{args.task}" (tasks: {known})')
    selector = args.targets or task.targets
    if not selector:
        raise UsageError(f"task {task.name} has no default targets: give -t SELECTOR")
    hosts = _select(config, selector)
    if not hosts:
        raise UsageError(f'selector "{selector}" matches no hosts')
    params = bind_params(task, parse_assignments(args.param), allow_missing_secrets=args.dry_run)
    plans = plan_task(task, hosts, params)
    if not args.dry_run:
        raise UsageError("executing tasks is not available in this version; use --dry-run to see the plan")
    if args.json:
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
        json.dump(
            {"task": task.name, "params": params.masked(), "selector": selector, "hosts": out},
            sys.stdout,
            indent=2,
        )
        print()
        return 0
    print(
        f"# task {task.name} on {len(plans)} host{'s' if len(plans) != 1 else ''} ({selector})"
        + (", dangerous: the console asks to confirm" if task.dangerous else "")
    )
    if task.batches:
        print(f"# batches {list(task.batches)}, max_fail {task.max_fail}")
    for plan in plans:
        where = "local" if plan.host.is_local else f"{plan.host.user}@{plan.host.address}:{plan.host.port}"
        print(f"{plan.host.name} ({where})")
        for i, step in enumerate(plan.steps, 1):
            print(f"  [{i}/{len(plan.steps)} {step.name}] {step.describe()}")
        if plan.on_failure:
            print(f"  [on failure] {plan.on_failure.describe()}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Convert an OpenSSH config or an Ansible inventory into hosts.toml."""
    import tomli_w

    from fleetdeck.core.importers import InventoryImportError
    from fleetdeck.core.importers.ansible import import_ansible
    from fleetdeck.core.importers.ssh_config import import_ssh_config

    if args.source == "ssh-config":
        path = Path(args.file).expanduser() if args.file else Path("~/.ssh/config").expanduser()
        importer = import_ssh_config
    else:
        path = Path(args.file).expanduser()
        importer = import_ansible
    try:
        result = importer(path)
    except InventoryImportError as exc:
        raise UsageError(str(exc)) from None
    for warning in result.warnings:
        print(f"fleetdeck: warning: {warning}", file=sys.stderr)
    text = f"# imported from {path} by `fleetdeck import {args.source}`\n" + tomli_w.dumps(result.data)
    if args.output:
        out = Path(args.output)
        try:
            with out.open("x", encoding="utf-8") as fh:
                fh.write(text)
        except FileExistsError:
            raise UsageError(f"{out} already exists; choose another --output or move it away") from None
        print(f"wrote {out} ({result.host_count} hosts)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


_COMMANDS = {
    "console": cmd_console,
    "check": cmd_check,
    "init": cmd_init,
    "locate": cmd_locate,
    "hosts": cmd_hosts,
    "tasks": cmd_tasks,
    "run": cmd_run,
    "import": cmd_import,
}
