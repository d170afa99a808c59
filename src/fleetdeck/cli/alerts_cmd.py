"""``fleetdeck alerts`` and ``fleetdeck silence``: alerts, acknowledgements and silences without the console.

Listing reads the alert store that the daemon (or the console) keeps in the state dir, so it shows what
that process sees; silences and acknowledgements are written to the same store and picked up by it.
``fleetdeck alerts --eval`` instead collects health once and evaluates the rules on the spot. One look
cannot show a duration elapsing, so a rule with a ``for`` whose condition holds shows as ``pending`` with
its current value; only rules without ``for`` can show as ``firing``. It exits 1 when any rule holds.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from fleetdeck.cli.inventory_cmds import load, select
from fleetdeck.cli.output import print_table
from fleetdeck.core.alerts.engine import AlertEngine
from fleetdeck.core.alerts.rules import ALERTS_FILE, AlertsConfig, load_alerts
from fleetdeck.core.alerts.schema import format_duration, parse_duration
from fleetdeck.core.alerts.silences import Silence, parse_matchers
from fleetdeck.core.alerts.state import AlertRecord, iso_time, match_labels
from fleetdeck.core.alerts.store import AlertStore
from fleetdeck.core.config import Config
from fleetdeck.core.errors import ConfigError, ConfigIssue, UsageError
from fleetdeck.core.health.collector import CollectorSettings
from fleetdeck.core.health.watch import collect_once
from fleetdeck.core.paths import state_dir
from fleetdeck.core.transport.rlimit import raise_nofile

P = TypeVar("P", bound=argparse.ArgumentParser)

EVAL_INTERVAL_S = 1.0
"""Collection interval for ``--eval``: rates need two samples, so this sets how long one look takes."""

EVAL_NOTE = (
    "one-shot evaluation: a rule with `for` shows as pending while its condition holds, since no duration "
    "can elapse in one look; the daemon and the console track them over time"
)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _when(epoch: float) -> str:
    return str(iso_time(epoch))[:19].replace("T", " ")


def _ago(seconds: float) -> str:
    return format_duration(max(0, int(seconds))) + " ago"


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _state(record: AlertRecord) -> str:
    flags = []
    if record.acknowledged_by:
        flags.append(f"ack {record.acknowledged_by}")
    if record.silenced:
        flags.append("silenced")
    if record.flapping:
        flags.append("flapping")
    if record.inhibited_by:
        flags.append(f"inhibited by {record.inhibited_by}")
    elif record.inhibited:
        flags.append("host not up")
    return record.state + (f" ({', '.join(flags)})" if flags else "")


def alert_rows(records: Sequence[AlertRecord], now: float) -> list[tuple[str, ...]]:
    """The rows of the alerts table."""
    rows: list[tuple[str, ...]] = [("ALERT", "STATE", "SEVERITY", "HOST", "SINCE", "VALUE", "SUMMARY")]
    for r in records:
        rows.append((r.key, _state(r), r.severity, r.host, _ago(now - r.since), _value(r.value), r.summary))
    return rows


def _print_alerts(records: Sequence[AlertRecord], as_json: bool, now: float, hidden: int = 0) -> None:
    if as_json:
        json.dump([r.to_json() for r in records], sys.stdout, indent=2)
        print()
        return
    if records:
        print_table(alert_rows(records, now), sys.stdout)
    else:
        print("no alerts", file=sys.stderr)
    if hidden:
        print(f"{hidden} silenced alert(s) not shown; --all shows them", file=sys.stderr)


def alerts_config(config: Config) -> AlertsConfig:
    """The rules in force: the loaded config's, else ``alerts.toml`` read here, else the built-in rules."""
    loaded = getattr(config, "alerts", None)
    if isinstance(loaded, AlertsConfig):
        return loaded
    path = config.dir / ALERTS_FILE
    if not path.exists():
        return AlertsConfig()
    from fleetdeck.core.config.loader import read_toml

    issues: list[ConfigIssue] = []
    raw = read_toml(path, issues)
    alerts = load_alerts(raw, config.inventory, issues, tasks=config.tasks) if raw is not None else AlertsConfig()
    if issues:
        raise ConfigError(issues)
    return alerts


def _eval(args: argparse.Namespace) -> int:
    config = load(args)
    rules = alerts_config(config)
    selector = args.targets or "all"
    hosts = [h for h in select(config, selector) if h.health != "off"]
    if not hosts:
        print(f'fleetdeck: selector "{selector}" matches no watched hosts', file=sys.stderr)
        return UsageError.exit_code
    raise_nofile()
    settings = CollectorSettings.for_interval(EVAL_INTERVAL_S)
    samples = asyncio.run(collect_once(config.inventory, hosts, state=state_dir(), settings=settings))
    engine = AlertEngine(rules, config.inventory)
    now = time.time()
    with AlertStore(state_dir()) as store:
        engine.silences = store.silences(now)
    for sample in samples:
        engine.evaluate(sample, now)
    records = engine.records()
    shown = records if args.all else [r for r in records if not r.silenced]
    _print_alerts(shown, args.json, now, len(records) - len(shown))
    if not args.json:
        print(EVAL_NOTE, file=sys.stderr)
    return 1 if records else 0


def _ack(args: argparse.Namespace) -> int:
    by = args.by or _user()
    with AlertStore(state_dir()) as store:
        record = store.acknowledge(args.key, by)
    print(f"acknowledged {record.key} as {by}: {record.summary}")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """List stored alerts, evaluate the rules once (``--eval``) or acknowledge one (``ack KEY``)."""
    if getattr(args, "alerts_action", None) == "ack":
        return _ack(args)
    if args.eval:
        return _eval(args)
    if args.targets is not None:
        raise UsageError("-t/--targets only works with --eval; stored alerts are listed for every host")
    now = time.time()
    with AlertStore(state_dir()) as store:
        records = store.active(now)
    shown = records if args.all else [r for r in records if not r.silenced]
    _print_alerts(shown, args.json, now, len(records) - len(shown))
    return 0


def silence_rows(silences: Sequence[Silence], now: float) -> list[tuple[str, ...]]:
    """The rows of the silences table."""
    rows: list[tuple[str, ...]] = [("ID", "STATE", "MATCHERS", "ENDS", "CREATOR", "REASON")]
    for s in silences:
        state = "active" if s.active(now) else "expired"
        left = f"{_when(s.ends)} ({format_duration(int(s.ends - now))} left)" if s.active(now) else _when(s.ends)
        rows.append((str(s.id), state, " ".join(str(m) for m in s.matchers), left, s.creator, s.reason))
    return rows


def _silence_add(args: argparse.Namespace) -> int:
    matchers = parse_matchers(args.matchers)
    try:
        duration = parse_duration(args.duration)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    now = time.time()
    with AlertStore(state_dir()) as store:
        silence = store.add_silence(matchers, duration_s=duration, reason=args.reason, creator=args.by or _user())
        matched = [r for r in store.active(now) if silence.matches(match_labels(r.labels))]
    if args.json:
        json.dump(silence.to_json(now), sys.stdout, indent=2)
        print()
        return 0
    print(
        f"silence {silence.id} until {_when(silence.ends)} ({format_duration(duration)}): "
        f"{' '.join(str(m) for m in matchers)}; matches {len(matched)} current alert(s)"
    )
    return 0


def _silence_list(args: argparse.Namespace) -> int:
    now = time.time()
    with AlertStore(state_dir()) as store:
        silences = store.silences(now, include_expired=args.all)
    if args.json:
        json.dump([s.to_json(now) for s in silences], sys.stdout, indent=2)
        print()
    elif silences:
        print_table(silence_rows(silences, now), sys.stdout)
    else:
        print("no silences" + ("" if args.all else " in force"), file=sys.stderr)
    return 0


def _silence_expire(args: argparse.Namespace) -> int:
    now = time.time()
    with AlertStore(state_dir()) as store:
        before = next((s for s in store.silences(now, include_expired=True) if s.id == args.id), None)
        silence = store.expire_silence(args.id, now)
    if before is not None and not before.active(now):
        print(f"silence {silence.id} had already expired at {_when(silence.ends)}")
    else:
        print(f"silence {silence.id} expired: {' '.join(str(m) for m in silence.matchers)}")
    return 0


def cmd_silence(args: argparse.Namespace) -> int:
    """Add, list or expire silences."""
    actions: dict[str, Callable[[argparse.Namespace], int]] = {
        "add": _silence_add,
        "list": _silence_list,
        "expire": _silence_expire,
    }
    return actions[args.silence_action](args)
