"""The ``fleetdeck`` command: the console by default, plus headless subcommands for scripts and CI.

This package parses arguments and prints; the work happens in :mod:`fleetdeck.core`. The UI is
imported only when the console starts, so headless commands never load Textual.
Exit codes: 0 ok, 1 internal error, 64 usage error (unknown host, bad parameter), 78 config error;
``run`` and ``exec`` return the run's status bits (see :mod:`fleetdeck.core.runner.exit_codes`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from fleetdeck import __version__
from fleetdeck.cli import (
    alerts_cmd,
    daemon_cmd,
    health_cmd,
    history_cmd,
    inventory_cmds,
    run_cmds,
    schedules_cmd,
    top_cmd,
)
from fleetdeck.core.errors import ConfigError, FleetdeckError, UsageError
from fleetdeck.core.selector import SelectorError


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
        help="e.g. web[01-05], @web&@prod, !db*, tag:dc=fra1, @last.failed (default: all)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("tasks", help="list saved tasks")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("run", help="run a saved task on its targets")
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
    p.add_argument("--yes", action="store_true", help="run a dangerous task without asking")
    run_cmds.add_run_options(p)

    p = sub.add_parser("exec", help="run an ad-hoc command: fleetdeck exec -t SELECTOR -- COMMAND")
    p.add_argument("-t", "--targets", metavar="SELECTOR", required=True, help="hosts to run on")
    p.add_argument("--timeout", type=float, metavar="S", help="kill the command after S seconds")
    p.add_argument("--no-output-timeout", type=float, metavar="S", help="kill it after S seconds without output")
    p.add_argument("--dry-run", action="store_true", help="print the hosts and the command, run nothing")
    run_cmds.add_run_options(p)
    p.add_argument("words", nargs=argparse.REMAINDER, metavar="COMMAND")

    p = sub.add_parser("history", help="past runs; one run's hosts; one host's output")
    p.add_argument("run", nargs="?", metavar="RUN", help="run id, unique prefix, last, -1, -2, ...")
    p.add_argument("--host", metavar="HOST", help="print this host's output byte for byte")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="runs to list (default 50)")

    p = sub.add_parser("health", help="current health of hosts (table or NDJSON), once or --watch")
    p.add_argument("-t", "--targets", metavar="SELECTOR", default="all", help="hosts to watch (default: all)")
    p.add_argument("--watch", action="store_true", help="keep updating until Ctrl+C")
    p.add_argument("--json", action="store_true", help="NDJSON: one object per host per sample")
    p.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between samples (default 2)")

    p = sub.add_parser("top", help="processes using the most CPU or memory on one host")
    p.add_argument("host", metavar="HOST")
    p.add_argument("--by", choices=("cpu", "mem"), default="cpu", help="sort key (default cpu)")
    p.add_argument("-n", type=int, default=15, metavar="N", help="how many (default 15)")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("schedules", help="scheduled tasks with their next and last runs")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("import", help="convert an existing inventory into hosts.toml")
    isub = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    for name, helptext, nargs in (
        ("ssh-config", "Host entries of an OpenSSH client config (default ~/.ssh/config)", "?"),
        ("ansible", "an Ansible INI or YAML inventory", None),
    ):
        ip = isub.add_parser(name, help=helptext)
        ip.add_argument("file", nargs=nargs, metavar="FILE")
        ip.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout (never overwrites)")
    alerts_cmd.add_parsers(sub)
    daemon_cmd.add_parsers(sub)
    return parser


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "console": inventory_cmds.cmd_console,
    "check": inventory_cmds.cmd_check,
    "init": inventory_cmds.cmd_init,
    "locate": inventory_cmds.cmd_locate,
    "hosts": inventory_cmds.cmd_hosts,
    "tasks": inventory_cmds.cmd_tasks,
    "import": inventory_cmds.cmd_import,
    "run": run_cmds.cmd_run,
    "exec": run_cmds.cmd_exec,
    "history": history_cmd.cmd_history,
    "health": health_cmd.cmd_health,
    "top": top_cmd.cmd_top,
    "schedules": schedules_cmd.cmd_schedules,
    **alerts_cmd.HANDLERS,
    **daemon_cmd.HANDLERS,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "exec" and args.words[:1] == ["--"]:
        args.words = args.words[1:]
    handler = _COMMANDS[args.command or "console"]
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
