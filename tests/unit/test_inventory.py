"""Inventory resolution: defaults, node sets, merging, groups and variable precedence."""

from __future__ import annotations

import getpass
from pathlib import Path

from fleetdeck.core.config import load_config
from fleetdeck.core.config.loader import embedded_hosts
from fleetdeck.core.inventory import build_inventory

HOSTS = """
[defaults]
user = "deploy"
port = 22
identity_file = "~/.ssh/id_ed25519"
known_hosts = "~/.ssh/known_hosts"
host_key_policy = "strict"
connect_timeout = 10
jump = "bastion"
vars = { env = "dev", tier = "none" }

[hosts.bastion]
address = "bastion.example.com"
jump = ""

[hosts."web[01-20]"]
address = "{name}.example.com"
groups = ["web", "prod"]
tags = { dc = "fra1" }
vars = { tier = "front" }

[hosts.web05]
port = 2222
groups = ["canary"]
vars = { tier = "canary" }

[hosts.localhost]
transport = "local"

[groups.prod]
vars = { env = "production", owner = "ops" }

[groups.web]
vars = { owner = "web-team" }

[groups.eu]
children = ["prod"]
"""


def load(tmp_path: Path, text: str = HOSTS):
    (tmp_path / "hosts.toml").write_text(text)
    return load_config(tmp_path).inventory


def test_node_set_expansion_and_defaults(tmp_path: Path) -> None:
    inv = load(tmp_path)
    assert [h.name for h in inv][:3] == ["bastion", "web01", "web02"]
    assert len(inv) == 22
    web03 = inv.get("web03")
    assert web03.address == "web03.example.com"
    assert (web03.user, web03.port, web03.jump, web03.connect_timeout) == ("deploy", 22, "bastion", 10.0)
    assert web03.tags == {"dc": "fra1"}
    assert inv.get("bastion").jump is None


def test_later_entry_adjusts_one_host_of_a_node_set(tmp_path: Path) -> None:
    web05 = load(tmp_path).get("web05")
    assert web05.port == 2222
    assert web05.address == "web05.example.com"
    assert web05.direct_groups == ("web", "prod", "canary")


def test_groups_include_parents_and_vars_layer_like_ansible(tmp_path: Path) -> None:
    inv = load(tmp_path)
    web01 = inv.get("web01")
    assert set(web01.groups) == {"web", "prod", "eu"}
    # defaults < parent group (eu) < groups < host; host's own var wins.
    assert web01.vars == {"env": "production", "tier": "front", "owner": web01.vars["owner"]}
    assert inv.get("web05").vars["tier"] == "canary"
    assert len(inv.groups["eu"].hosts) == 20
    assert inv.groups["all"].hosts[0] == "bastion"


def test_local_transport_has_no_jump_and_local_address(tmp_path: Path) -> None:
    local = load(tmp_path).get("localhost")
    assert local.is_local and local.jump is None and local.address == "localhost"


def test_selectors_against_inventory(tmp_path: Path) -> None:
    inv = load(tmp_path)
    assert [h.name for h in inv.select("@web&@canary")] == ["web05"]
    assert len(inv.select("@prod,!web[01-10]")) == 10
    assert [h.name for h in inv.select("tag:dc=fra1&web1*")][:2] == ["web10", "web11"]


def test_embedded_default_is_this_machine() -> None:
    inv, issues = build_inventory(embedded_hosts())
    assert issues == []
    [host] = inv.hosts
    assert host.name == "localhost" and host.is_local and host.user == getpass.getuser()


def test_missing_hosts_file_means_embedded_default(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert [h.name for h in config.inventory] == ["localhost"]


def test_bundled_samples_pass_check() -> None:
    config = load_config(Path(__file__).parents[2] / "configs")
    assert [h.name for h in config.inventory] == ["localhost"]
    assert {
        "disk-usage",
        "top-memory",
        "service-status",
        "failed-units",
        "kernel-errors",
        "updates-available",
        "backup-dir",
    } <= set(config.tasks)
