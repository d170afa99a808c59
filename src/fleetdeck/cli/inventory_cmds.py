"""Config and inventory commands: check, init, locate, hosts, tasks, import, and starting the console."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fleetdeck.cli.output import print_table
from fleetdeck.core.config import Config, load_config
from fleetdeck.core.config.loader import Scope
from fleetdeck.core.errors import UsageError
from fleetdeck.core.inventory import Host
from fleetdeck.core.paths import find_config_dir, state_dir, theme_dirs, user_config_dir


def load(args: argparse.Namespace, scope: Scope = "all") -> Config:
    """The config for a command; commands that only run or list things pass ``scope="engine"``."""
    return load_config(args.config, scope=scope)


def cmd_console(args: argparse.Namespace) -> int:
    """Start the Textual console on the configured hosts."""
    config = load(args)
    from fleetdeck.ui.app import FleetdeckApp
    from fleetdeck.ui.context import ConsoleContext

    context = ConsoleContext.from_config(config, state_dir())
    app = FleetdeckApp(context, user_themes_dir=config.dir / "themes", state_dir=state_dir())
    app.run()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate everything and say what was checked."""
    config = load(args)
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


def select(config: Config, selector: str) -> list[Host]:
    """Hosts for ``selector``, with run result sets (``@last.failed``) looked up in the store."""
    from fleetdeck.core.runner.service import Engine

    engine = Engine(config)
    try:
        return engine.select(selector, allow_empty=True)
    finally:
        if engine._store is not None:
            engine._store.close()


def cmd_hosts(args: argparse.Namespace) -> int:
    """List hosts matching a selector."""
    config = load(args, scope="engine")
    hosts = select(config, args.selector)
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
    print_table(rows, sys.stdout)
    print(f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}", file=sys.stderr)
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    """List saved tasks."""
    config = load(args, scope="engine")
    if args.json:
        json.dump([t.to_json() for t in config.tasks.values()], sys.stdout, indent=2)
        print()
        return 0
    rows = [("TASK", "TARGETS", "PARAMS", "DESCRIPTION")]
    for t in config.tasks.values():
        params = " ".join(f"{p.name}{'' if p.required else '?'}" for p in t.params.values())
        flag = " (dangerous)" if t.dangerous else ""
        rows.append((t.name, t.targets or "-", params or "-", t.description + flag))
    print_table(rows, sys.stdout)
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
