"""Benchmark: loading a 10,000-host inventory (``hosts.toml`` + ``tasks.toml``) into resolved hosts.

Measures, alternating runs in one process, the median wall time of:
- ``toml-parse``: the standard library's tomllib parsing the file alone (the floor a stdlib tool pays);
- ``tomli-parse``: the compiled tomli build of the same parser, which fleetdeck loads with;
- ``fleetdeck``: the full load (parse, validate, expand node sets, resolve groups and vars, tasks);
- ``fleetdeck+select``: the load plus evaluating a selector over every host;
- ``ansible-inventory``: the same hosts as an Ansible INI inventory, when ``ansible-inventory`` is
  on PATH (install ansible-core into bench's venv to include it), as a separate process.
Prints the medians and ratios against the TOML floor (and Ansible when present).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import tomli

from fleetdeck.core.config import load_config


def write_fleet(root: Path, n: int) -> None:
    """Write ``n`` hosts as individual tables, 5 groups, tags and vars, as a real inventory would."""
    lines = ['[defaults]\nuser = "deploy"\nidentity_file = "~/.ssh/id_ed25519"\nconnect_timeout = 10\n']
    ini = ["[all:vars]", "ansible_user=deploy"]
    groups: dict[str, list[str]] = {}
    for i in range(n):
        name = f"node{i:05d}"
        group = f"g{i % 5}"
        groups.setdefault(group, []).append(f"{name} ansible_host=10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        lines.append(
            f'[hosts.{name}]\naddress = "10.{i // 65536}.{i // 256 % 256}.{i % 256}"\n'
            f'groups = ["{group}", "prod"]\ntags = {{ dc = "dc{i % 3}", rack = "r{i % 40}" }}\n'
            f"vars = {{ slot = {i % 16} }}\n"
        )
    lines.append('[groups.prod]\nvars = { env = "production" }\n')
    (root / "hosts.toml").write_text("\n".join(lines))
    (root / "tasks.toml").write_text('[tasks.uptime]\ncommand = "uptime"\ntargets = "@prod"\n')
    for group, members in groups.items():
        ini.append(f"[{group}]")
        ini.extend(members)
    (root / "inventory.ini").write_text("\n".join(ini) + "\n")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--hosts", type=int, default=10_000)
    parser.add_argument("-r", "--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_fleet(root, args.hosts)
        text = (root / "hosts.toml").read_text()
        ansible = shutil.which("ansible-inventory") or (
            str(Path(sys.executable).with_name("ansible-inventory"))
            if Path(sys.executable).with_name("ansible-inventory").exists()
            else None
        )
        variants: dict[str, Callable[[], object]] = {
            "toml-parse": lambda: tomllib.loads(text),
            "tomli-parse": lambda: tomli.loads(text),
            "fleetdeck": lambda: load_config(root),
            "fleetdeck+select": lambda: load_config(root).inventory.select("@g1&tag:dc=dc2,!node0000*"),
        }
        if ansible:
            variants["ansible-inventory"] = lambda: subprocess.run(
                [ansible, "-i", str(root / "inventory.ini"), "--list"], check=True, capture_output=True
            )
        results: dict[str, list[float]] = {k: [] for k in variants}
        config = load_config(root)
        assert len(config.inventory) == args.hosts, "inventory did not load every host"
        for _ in range(args.runs):  # alternate variants so drift hits them all alike
            for name, fn in variants.items():
                results[name].append(timed(fn))
    floor = statistics.median(results["toml-parse"])
    print(f"inventory load, {args.hosts} hosts, median of {args.runs} alternating runs")
    for name, times in results.items():
        med = statistics.median(times)
        line = f"  {name:<20} {med * 1000:8.1f} ms   {med / floor:5.2f}x toml-parse"
        if "ansible-inventory" in results and name != "ansible-inventory":
            line += f"   {med / statistics.median(results['ansible-inventory']):5.3f}x ansible-inventory"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
