"""The ``fleetdeck`` command: the console by default, plus headless subcommands for scripts and CI.

This package parses arguments and prints; the work happens in :mod:`fleetdeck.core`. The UI is
imported only when the console starts, so headless commands never load Textual.
Exit codes: 0 ok, 1 internal error, 64 usage error (unknown host, bad parameter), 78 config error;
``run`` and ``exec`` return the run's status bits (see :mod:`fleetdeck.core.runner.exit_codes`).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence

from fleetdeck.cli.args import build_parser
from fleetdeck.core.errors import ConfigError, FleetdeckError, UsageError
from fleetdeck.core.selector import SelectorError

_COMMANDS: dict[str, str] = {
    "console": "inventory_cmds:cmd_console",
    "check": "inventory_cmds:cmd_check",
    "init": "inventory_cmds:cmd_init",
    "locate": "inventory_cmds:cmd_locate",
    "hosts": "inventory_cmds:cmd_hosts",
    "tasks": "inventory_cmds:cmd_tasks",
    "import": "inventory_cmds:cmd_import",
    "run": "run_cmds:cmd_run",
    "exec": "run_cmds:cmd_exec",
    "history": "history_cmd:cmd_history",
    "health": "health_cmd:cmd_health",
    "top": "top_cmd:cmd_top",
    "schedules": "schedules_cmd:cmd_schedules",
    "alerts": "alerts_cmd:cmd_alerts",
    "silence": "alerts_cmd:cmd_silence",
    "notify": "notify_cmd:cmd_notify",
    "daemon": "daemon_cmd:cmd_daemon",
    "remediation": "daemon_cmd:cmd_remediation",
}
"""Command name to ``module:function`` under ``fleetdeck.cli``; imported only when that command runs."""


def handler(command: str) -> Callable[..., int]:
    """The function that runs ``command``."""
    module, _, name = _COMMANDS[command].partition(":")
    func: Callable[..., int] = getattr(importlib.import_module(f"fleetdeck.cli.{module}"), name)
    return func


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "exec" and args.words[:1] == ["--"]:
        args.words = args.words[1:]
    try:
        return handler(args.command or "console")(args)
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
