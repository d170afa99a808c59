"""The CLI against the real SSH test fleet's generated config: inventory, selectors and dry runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fleet import SshFleet
from fleetdeck.core.config import load_config

pytestmark = pytest.mark.ssh


def fleetdeck(fleet: SshFleet, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetdeck", "--config", str(fleet.config_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fleet_config_loads_into_the_inventory(ssh_fleet: SshFleet) -> None:
    inventory = load_config(ssh_fleet.config_dir).inventory
    assert [(h.name, h.address) for h in inventory] == ssh_fleet.hosts
    first = inventory.hosts[0]
    assert (first.port, first.user, first.host_key_policy) == (ssh_fleet.port, ssh_fleet.user, "strict")
    assert first.known_hosts == str(ssh_fleet.known_hosts)


def test_hosts_json_lists_the_fleet(ssh_fleet: SshFleet) -> None:
    out = fleetdeck(ssh_fleet, "hosts", "@fleet", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["name"], r["address"]) for r in rows] == ssh_fleet.hosts
    assert all(r["groups"] == ["fleet"] for r in rows)


def test_unknown_host_in_selector_is_named(ssh_fleet: SshFleet) -> None:
    name = ssh_fleet.hosts[0][0]
    out = fleetdeck(ssh_fleet, "hosts", f"{name},nosuch01")
    assert out.returncode == 64
    assert out.stderr.strip() == f'fleetdeck: unknown host "nosuch01" in selector "{name},nosuch01"'


def test_check_passes_and_init_refuses_to_overwrite(ssh_fleet: SshFleet) -> None:
    out = fleetdeck(ssh_fleet, "check")
    assert out.returncode == 0
    assert f"({len(ssh_fleet.hosts)} hosts," in out.stdout
    again = subprocess.run(
        [sys.executable, "-m", "fleetdeck", "init", str(ssh_fleet.config_dir)], capture_output=True, text=True
    )
    assert again.returncode == 64
    assert "refusing to overwrite existing" in again.stderr and "hosts.toml" in again.stderr
