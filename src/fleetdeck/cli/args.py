"""The command line's grammar: every subcommand and option, with no engine imports.

Parsing stays cheap this way: ``fleetdeck exec`` does not load the alert rules or the console, and
``--help`` answers at once. The handlers live in the ``*_cmd`` modules and are imported on use.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from fleetdeck import __version__
from fleetdeck.core.errors import UsageError


class _Parser(argparse.ArgumentParser):
    """argparse with the usage exit code scripts expect from fleetdeck (64, EX_USAGE) instead of 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(UsageError.exit_code, f"{self.prog}: error: {message}\n")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``exec``."""
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="NDJSON events on stdout, one object per line")
    out.add_argument("--gather", action="store_true", help="group identical outputs at the end (clush -b style)")
    p.add_argument("--max-hosts", type=int, default=64, metavar="N", help="hosts in flight at once (default 64)")
    p.add_argument("--max-handshakes", type=int, default=32, metavar="N", help="SSH handshakes at once (default 32)")
    p.add_argument("--no-color", action="store_true", help="no colour even on a terminal")


def add_alert_parsers(sub: Any) -> None:
    """Add ``alerts`` (with ``ack``) and ``silence`` (with ``add``, ``list``, ``expire``) to the command parser."""
    p = sub.add_parser("alerts", help="current alerts from the alert store; --eval checks the rules once now")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--all", action="store_true", help="include silenced alerts")
    p.add_argument("--eval", action="store_true", help="collect health once and evaluate the rules now")
    p.add_argument("-t", "--targets", metavar="SELECTOR", help="with --eval: hosts to evaluate (default: all)")
    actions = p.add_subparsers(dest="alerts_action", metavar="ACTION")
    a = actions.add_parser("ack", help="acknowledge a firing alert: fleetdeck alerts ack HighCPU@web01")
    a.add_argument("key", metavar="KEY", help="the alert as listed, e.g. HighCPU@web01 or RootDiskFull@web01:/")
    a.add_argument("--by", metavar="NAME", help="who acknowledges (default: your user name)")

    p = sub.add_parser("silence", help="mute notifications of matching alerts for a while")
    actions = p.add_subparsers(dest="silence_action", metavar="ACTION", required=True)
    a = actions.add_parser("add", help="fleetdeck silence add rule=HighCPU host=web* --for 2h --reason TEXT")
    a.add_argument(
        "matchers",
        nargs="+",
        metavar="MATCHER",
        help="NAME=VALUE or NAME!=VALUE over rule, host, severity, mount, labels",
    )
    a.add_argument("--for", dest="duration", required=True, metavar="DURATION", help='how long, e.g. "30m", "2h"')
    a.add_argument("--reason", required=True, metavar="TEXT", help="why, for whoever is on call next")
    a.add_argument("--by", metavar="NAME", help="who silences (default: your user name)")
    a.add_argument("--json", action="store_true", help="print the new silence as JSON")
    a = actions.add_parser("list", help="silences in force")
    a.add_argument("--json", action="store_true", help="print a JSON list")
    a.add_argument("--all", action="store_true", help="include expired silences (kept 30 days)")
    a = actions.add_parser("expire", help="end a silence now")
    a.add_argument("id", type=int, metavar="ID", help="the silence's number, as listed")


def add_notify_parsers(sub: Any) -> None:
    """Add ``notify`` (with ``test``)."""
    p = sub.add_parser("notify", help="check notification channels: fleetdeck notify test CHANNEL")
    actions = p.add_subparsers(dest="notify_action", metavar="ACTION", required=True)
    a = actions.add_parser("test", help="send one test notification to a channel of notify.toml now")
    a.add_argument("channel", metavar="CHANNEL", help="the channel's name in notify.toml")


def add_daemon_parsers(sub: Any) -> None:
    """Register ``daemon`` and ``remediation``."""
    p = sub.add_parser("daemon", help="run health collection, alerts, notifications, schedules and remediation")
    p.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between health samples")
    p = sub.add_parser("remediation", help="list, approve or deny remediation runs waiting for approval")
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lp = rsub.add_parser("list", help="remediations waiting for approval")
    lp.add_argument("--all", action="store_true", help="also decided ones")
    lp.add_argument("--json", action="store_true", help="print a JSON list")
    for action in ("approve", "deny"):
        ap = rsub.add_parser(action, help=f"{action} a waiting remediation")
        ap.add_argument("id", type=int, metavar="ID")


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
    add_run_options(p)

    p = sub.add_parser("exec", help="run an ad-hoc command: fleetdeck exec -t SELECTOR -- COMMAND")
    p.add_argument("-t", "--targets", metavar="SELECTOR", required=True, help="hosts to run on")
    p.add_argument("--timeout", type=float, metavar="S", help="kill the command after S seconds")
    p.add_argument("--no-output-timeout", type=float, metavar="S", help="kill it after S seconds without output")
    p.add_argument("--dry-run", action="store_true", help="print the hosts and the command, run nothing")
    add_run_options(p)
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
    add_alert_parsers(sub)
    add_notify_parsers(sub)
    add_daemon_parsers(sub)
    return parser
