"""Tests for the inventory importers (OpenSSH client config and Ansible INI/YAML inventories).

Each test feeds a small but realistic inventory and asserts on the exact ``hosts.toml`` dict and warnings,
because the importers' whole job is to say precisely what they kept, changed and dropped. SSH configs are
written under a temporary ``$HOME`` so ``Include`` resolves against a private ``~/.ssh``; the larger Ansible
samples live in ``tests/unit/data/importers/``.
"""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import pytest
import tomli_w

from fleetdeck.core.config.schema import HostsFile
from fleetdeck.core.importers import ImportResult, InventoryImportError
from fleetdeck.core.importers.ansible import import_ansible
from fleetdeck.core.importers.ssh_config import import_ssh_config
from fleetdeck.core.inventory import build_inventory

DATA = Path(__file__).parent / "data" / "importers"


def write(path: Path, text: str) -> Path:
    """Write a dedented fixture file, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def ssh_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``~/.ssh``, so relative Includes never touch the real one."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home / ".ssh"


def ssh_hosts(ssh_dir: Path, text: str) -> ImportResult:
    """Import an inline ssh config written to ``~/.ssh/config``."""
    return import_ssh_config(write(ssh_dir / "config", text))


def assert_valid_hosts_toml(result: ImportResult) -> None:
    """The dict survives TOML unchanged and fleetdeck's own loader accepts it without issues."""
    assert tomllib.loads(tomli_w.dumps(result.data)) == result.data
    inventory, issues = build_inventory(HostsFile.model_validate(result.data))
    assert issues == []
    assert len(inventory) == result.host_count


# ------------------------------------------------------------------------------------------ ssh_config


def test_ssh_realistic_config(ssh_dir: Path) -> None:
    write(
        ssh_dir / "config.d" / "monitoring",
        """
        Host grafana prometheus
            HostName %h.mon.example.com
            User=monitor
        """,
    )
    config = ssh_hosts(
        ssh_dir,
        """
        # Ops team ssh config
        Include config.d/*

        Host bastion
            HostName bastion.example.com
            User ops
            ProxyJump none

        Host web01 web02
            HostName %h.prod.example.com

        Host db01
            HostName 10.0.2.15
            Port 2222
            User postgres
            IdentityFile ~/.ssh/db_ed25519

        Host legacy
            HostName legacy.example.com
            StrictHostKeyChecking no
            UserKnownHostsFile /dev/null

        Host *.corp
            User corp-admin

        Match host *.prod.example.com exec "test -f ~/.vpn-up"
            ProxyJump none

        Host *
            User deploy
            ProxyJump bastion
            IdentityFile ~/.ssh/id_ed25519
            StrictHostKeyChecking accept-new
            ServerAliveInterval 30
            ConnectTimeout 10
        """,
    )
    result = config
    where = ssh_dir / "config"
    assert result.data == {
        "defaults": {"connect_timeout": 10, "jump": "bastion"},
        "hosts": {
            "grafana": {
                "address": "grafana.mon.example.com",
                "user": "monitor",
                "identity_file": "~/.ssh/id_ed25519",
                "host_key_policy": "accept-new",
            },
            "prometheus": {
                "address": "prometheus.mon.example.com",
                "user": "monitor",
                "identity_file": "~/.ssh/id_ed25519",
                "host_key_policy": "accept-new",
            },
            "bastion": {
                "address": "bastion.example.com",
                "user": "ops",
                "identity_file": "~/.ssh/id_ed25519",
                "host_key_policy": "accept-new",
                "jump": "",
            },
            "web01": {
                "address": "web01.prod.example.com",
                "user": "deploy",
                "identity_file": "~/.ssh/id_ed25519",
                "host_key_policy": "accept-new",
            },
            "web02": {
                "address": "web02.prod.example.com",
                "user": "deploy",
                "identity_file": "~/.ssh/id_ed25519",
                "host_key_policy": "accept-new",
            },
            "db01": {
                "address": "10.0.2.15",
                "user": "postgres",
                "port": 2222,
                "identity_file": "~/.ssh/db_ed25519",
                "host_key_policy": "accept-new",
            },
            "legacy": {
                "address": "legacy.example.com",
                "user": "deploy",
                "identity_file": "~/.ssh/id_ed25519",
                "host_key_policy": "strict",
            },
        },
    }
    assert result.warnings == [
        f'{where}:23: Host "*.corp" is a pattern, skipped as a host; its settings still apply to the hosts it matches',
        f'{where}:26: Match host *.prod.example.com exec "test -f ~/.vpn-up": Match blocks depend on runtime '
        "conditions; block skipped",
        f"{where}:34: ServerAliveInterval has no fleetdeck equivalent, ignored",
        f"{where}:20: fleetdeck never disables host key checking; StrictHostKeyChecking imported as strict "
        "(hosts: legacy)",
        f"{where}:21: UserKnownHostsFile /dev/null throws host keys away; not imported (hosts: legacy)",
        f"{where}:32: IdentityFile ~/.ssh/id_ed25519 ignored: fleetdeck uses one key per host, the first that "
        f"applies is at {where}:16 (hosts: db01)",
    ]
    assert result.host_count == 7
    assert_valid_hosts_toml(result)


def test_ssh_first_obtained_value_wins(ssh_dir: Path) -> None:
    result = ssh_hosts(
        ssh_dir,
        """
        Host early
            User early-user
        Host *
            User star-user
            Port 2200
        Host late
            User late-user
            Port 22
        """,
    )
    # "late" is matched by Host * first, so its own later values lose, exactly as with ssh.
    assert result.data == {
        "defaults": {"port": 2200},
        "hosts": {"early": {"user": "early-user"}, "late": {"user": "star-user"}},
    }
    assert result.warnings == []


def test_ssh_host_star_settings_become_defaults(ssh_dir: Path) -> None:
    result = ssh_hosts(
        ssh_dir,
        """
        Host app1 app2 app3
            HostName %h.internal
        Host *
            User deploy
            IdentityFile ~/.ssh/fleet
            UserKnownHostsFile ~/.ssh/fleet_known_hosts
            StrictHostKeyChecking yes
        """,
    )
    assert result.data == {
        "defaults": {
            "user": "deploy",
            "identity_file": "~/.ssh/fleet",
            "known_hosts": "~/.ssh/fleet_known_hosts",
            "host_key_policy": "strict",
        },
        "hosts": {
            "app1": {"address": "app1.internal"},
            "app2": {"address": "app2.internal"},
            "app3": {"address": "app3.internal"},
        },
    }
    assert_valid_hosts_toml(result)


def test_ssh_single_host_keeps_its_settings(ssh_dir: Path) -> None:
    result = ssh_hosts(ssh_dir, "Host only\n  User me\n")
    assert result.data == {"hosts": {"only": {"user": "me"}}}


def test_ssh_line_syntax(ssh_dir: Path) -> None:
    result = ssh_hosts(
        ssh_dir,
        """
        # comment lines and blank lines are ignored

        HOST alpha,beta "gamma"
        \thostname=10.0.0.%h
          user = "ops team"   # a trailing comment
          PORT=2022
          IdentityFile "~/.ssh/key with spaces"
          ConnectTimeout none
        Host delta
          HostName delta\\ host
          IdentityFile 'single quoted'
          HostName ignored-second-value
        """,
    )
    assert result.data == {
        "hosts": {
            "alpha": {
                "address": "10.0.0.alpha",
                "user": "ops team",
                "port": 2022,
                "identity_file": "~/.ssh/key with spaces",
            },
            "beta": {
                "address": "10.0.0.beta",
                "user": "ops team",
                "port": 2022,
                "identity_file": "~/.ssh/key with spaces",
            },
            "gamma": {
                "address": "10.0.0.gamma",
                "user": "ops team",
                "port": 2022,
                "identity_file": "~/.ssh/key with spaces",
            },
            "delta": {"address": "delta host", "identity_file": "single quoted"},
        }
    }
    assert result.warnings == []


def test_ssh_hostname_tokens(ssh_dir: Path) -> None:
    result = ssh_hosts(ssh_dir, "Host h1\n  HostName %h.example.com%%x\n")
    assert result.data == {"hosts": {"h1": {"address": "h1.example.com%x"}}}


def test_ssh_negated_patterns(ssh_dir: Path) -> None:
    result = ssh_hosts(
        ssh_dir,
        """
        Host bastion
            HostName 203.0.113.7
        Host app db
            HostName %h.lan
        Host * !bastion
            ProxyJump bastion
        Host * !db
            User generic
        """,
    )
    assert result.data == {
        "defaults": {"jump": "bastion"},
        "hosts": {
            "bastion": {"address": "203.0.113.7", "user": "generic", "jump": ""},
            "app": {"address": "app.lan", "user": "generic"},
            "db": {"address": "db.lan"},
        },
    }
    assert_valid_hosts_toml(result)


def test_ssh_pattern_matching_is_case_insensitive(ssh_dir: Path) -> None:
    result = ssh_hosts(ssh_dir, "Host Web1 web2\nHost WEB?\n  User ops\n")
    assert result.data == {"defaults": {"user": "ops"}, "hosts": {"Web1": {}, "web2": {}}}
    assert result.warnings == [
        f'{ssh_dir / "config"}:2: Host "WEB?" is a pattern, skipped as a host; '
        "its settings still apply to the hosts it matches"
    ]


def test_ssh_proxy_jump_translation(ssh_dir: Path) -> None:
    result = ssh_hosts(
        ssh_dir,
        """
        Host gw
            HostName gw.example.com
        Host a
            ProxyJump gw
        Host b
            ProxyJump gw,gw2
        Host c
            ProxyJump admin@gw:2222
        Host d
            ProxyJump elsewhere.example.com
        Host e
            ProxyCommand ssh -W %h:%p gw
            ProxyJump gw
        Host f
            ProxyCommand none
            ProxyJump gw
        Host gw
            ProxyJump gw
        """,
    )
    where = ssh_dir / "config"
    assert result.data["hosts"] == {
        "gw": {"address": "gw.example.com"},
        "a": {"jump": "gw"},
        "b": {},
        "c": {},
        "d": {},
        "e": {},
        "f": {},
    }
    assert result.warnings == [
        f"{where}:6: ProxyJump gw,gw2 has several hops; fleetdeck jumps through one host (hosts: b)",
        f"{where}:8: ProxyJump admin@gw:2222 sets a user or port; name a Host alias instead so fleetdeck "
        "can jump (hosts: c)",
        f"{where}:10: ProxyJump elsewhere.example.com is not a Host alias in this config, ignored (hosts: d)",
        f"{where}:12: ProxyCommand has no fleetdeck equivalent, ignored (hosts: e)",
        f"{where}:18: ProxyJump gw would jump through the host itself, ignored (hosts: gw)",
    ]


@pytest.mark.parametrize(
    ("value", "policy", "warned"),
    [
        ("yes", "strict", False),
        ("True", "strict", False),
        ("ask", "strict", False),
        ("accept-new", "accept-new", False),
        ("no", "strict", True),
        ("off", "strict", True),
        ("FALSE", "strict", True),
    ],
)
def test_ssh_strict_host_key_checking(ssh_dir: Path, value: str, policy: str, warned: bool) -> None:
    result = ssh_hosts(ssh_dir, f"Host h\n  StrictHostKeyChecking {value}\n")
    assert result.data == {"hosts": {"h": {"host_key_policy": policy}}}
    expected = [
        f"{ssh_dir / 'config'}:2: fleetdeck never disables host key checking; StrictHostKeyChecking imported "
        "as strict (hosts: h)"
    ]
    assert result.warnings == (expected if warned else [])


def test_ssh_known_hosts_first_file(ssh_dir: Path) -> None:
    result = ssh_hosts(ssh_dir, "Host h\n  UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2\n")
    assert result.data == {"hosts": {"h": {"known_hosts": "~/.ssh/kh1"}}}
    assert result.warnings == [
        f"{ssh_dir / 'config'}:2: only the first UserKnownHostsFile (~/.ssh/kh1) is used (hosts: h)"
    ]


def test_ssh_include_relative_absolute_and_conditional(ssh_dir: Path, tmp_path: Path) -> None:
    write(ssh_dir / "conf.d" / "10-web", "Host web1\n  HostName 10.1.0.1\n")
    write(ssh_dir / "conf.d" / "20-db", "Host db1\n  HostName 10.2.0.1\n")
    write(ssh_dir / "conf.d" / ".20-db.swp", "Host swapfile\n")  # ssh's glob skips dotfiles
    write(ssh_dir / "work-users", "User worker\nPort 2022\n")
    absolute = write(tmp_path / "elsewhere" / "extra.conf", "Host extra\n  HostName 10.3.0.1\n")
    result = ssh_hosts(
        ssh_dir,
        f"""
        Include conf.d/* {absolute}
        Host web1
            Include work-users
        Host db1
            Include missing-*
        """,
    )
    # The Include inside "Host web1" only applies to web1, even though its file has no Host line.
    assert result.data == {
        "hosts": {
            "web1": {"address": "10.1.0.1", "user": "worker", "port": 2022},
            "db1": {"address": "10.2.0.1"},
            "extra": {"address": "10.3.0.1"},
        }
    }
    assert result.warnings == [f'{ssh_dir / "config"}:5: Include "missing-*" matched no files']


def test_ssh_include_with_tilde_and_recursion_guard(ssh_dir: Path) -> None:
    write(ssh_dir / "a.conf", "Include ~/.ssh/b.conf\nHost from-a\n  User a\n")
    write(ssh_dir / "b.conf", "Host from-b\n  User b\nInclude a.conf\n")
    result = ssh_hosts(ssh_dir, "Include a.conf\n")
    assert result.data == {"hosts": {"from-b": {"user": "b"}, "from-a": {"user": "a"}}}
    assert result.warnings == [f"{ssh_dir / 'b.conf'}:3: Include of {ssh_dir / 'a.conf'} would recurse, skipped"]


def test_ssh_match_blocks_are_skipped(ssh_dir: Path) -> None:
    result = ssh_hosts(
        ssh_dir,
        """
        Host box
            HostName box.example.com
        Match user root
            User admin
            ForwardAgent yes
            Include never-read
        Match all
            Port 2200
        Host other
            User other
        """,
    )
    assert result.data == {
        "defaults": {"port": 2200},
        "hosts": {"box": {"address": "box.example.com"}, "other": {"user": "other"}},
    }
    # Lines inside the skipped block (including its Include) produce no further warnings.
    assert result.warnings == [
        f"{ssh_dir / 'config'}:3: Match user root: Match blocks depend on runtime conditions; block skipped"
    ]


def test_ssh_bracketed_alias_is_not_a_node_set(ssh_dir: Path) -> None:
    result = ssh_hosts(ssh_dir, "Host web[1-3] plain\n")
    assert result.data == {"hosts": {"plain": {}}}
    assert result.warnings == [
        f'{ssh_dir / "config"}:1: Host "web[1-3]" contains brackets, which fleetdeck reads as a node set; skipped'
    ]


def test_ssh_empty_config(ssh_dir: Path) -> None:
    result = ssh_hosts(ssh_dir, "# nothing here\nHost *\n  User me\n")
    assert result == ImportResult(data={}, warnings=[], host_count=0)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('Host a\n  HostName "unterminated\n', 2, "unterminated quote"),
        ("Host a\n  Port ssh\n", 2, "Port needs a number, got 'ssh'"),
        ("Host a\n  Port 70000\n", 2, "Port 70000 is out of range"),
        ("Host a\n  User\n", 2, "User is missing its argument"),
        ("Host a\n  User one two\n", 2, "User takes one argument, got 2"),
        ("Host\n", 1, "Host is missing its argument"),
        ("Host a\n  = 10.0.0.1\n", 2, "expected 'Keyword value', got '= 10.0.0.1'"),
        ("Host a\n\n  StrictHostKeyChecking maybe\n", 3, "unknown StrictHostKeyChecking value 'maybe'"),
        ("Host a\n  ConnectTimeout 5s\n", 2, "ConnectTimeout needs a number, got '5s'"),
    ],
)
def test_ssh_malformed_lines(ssh_dir: Path, text: str, line: int, reason: str) -> None:
    path = write(ssh_dir / "config", text)
    with pytest.raises(InventoryImportError) as caught:
        import_ssh_config(path)
    assert str(caught.value) == f"{path}:{line}: {reason}"
    assert (caught.value.path, caught.value.line) == (str(path), line)


def test_ssh_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InventoryImportError, match=rf"^{missing}: cannot read file: No such file or directory$"):
        import_ssh_config(missing)


def test_ssh_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_bytes(b"Host a\n\xff\xfe\n")
    with pytest.raises(InventoryImportError, match=rf"^{path}: not a UTF-8 text file"):
        import_ssh_config(path)


# ------------------------------------------------------------------------------------------- Ansible


def test_ansible_ini_realistic() -> None:
    path = DATA / "production.ini"
    result = import_ansible(path)
    assert result.data == {
        "defaults": {"identity_file": "~/.ssh/prod_ed25519", "vars": {"timezone": "UTC", "monitoring": True}},
        "hosts": {
            "bastion.example.com": {"user": "ops"},
            "web[01-04].example.com": {"user": "deploy", "groups": ["web"]},
            "web05.example.com": {"user": "deploy", "port": 2222, "groups": ["web"], "vars": {"http_port": 8080}},
            "db-a.example.com": {"user": "postgres", "groups": ["db"]},
            "db-b.example.com": {"user": "postgres", "groups": ["db"]},
            "db-c.example.com": {"user": "postgres", "groups": ["db"]},
            "db-x.example.com": {
                "user": "deploy",
                "port": 5522,
                "groups": ["db"],
                "vars": {"role": "replica", "backup": False, "note": "weekly full, daily incremental"},
            },
            "localhost": {"transport": "local", "groups": ["local"]},
        },
        "groups": {
            "web": {"vars": {"http_port": 80, "max_clients": 200, "release": "007"}},
            "prod": {"vars": {"env": "production", "ntp_server": "ntp.example.com"}, "children": ["web", "db"]},
        },
    }
    assert result.warnings == [
        f"{path}:28: group web: ansible_python_interpreter has no fleetdeck equivalent, ignored",
    ]
    assert result.host_count == 11
    assert_valid_hosts_toml(result)


def test_ansible_yaml_realistic() -> None:
    path = DATA / "staging.yml"
    result = import_ansible(path)
    assert result.data == {
        "defaults": {"user": "deploy", "port": 22, "vars": {"timezone": "UTC"}},
        "hosts": {
            "jump.staging.example.com": {},
            "app[1-6/2].staging.example.com": {"groups": ["frontend"]},
            "app-x": {"address": "{name}.staging.example.com", "groups": ["frontend"]},
            "app-y": {"address": "{name}.staging.example.com", "groups": ["frontend"]},
            "app-z": {
                "address": "{name}.staging.example.com",
                "user": "canary",
                "identity_file": "~/.ssh/canary",
                "groups": ["frontend", "canary"],
                "vars": {"weight": 0.25},
            },
            "db01": {"address": "10.20.0.11", "port": 2202, "groups": ["backend"]},
            "localhost": {"transport": "local", "groups": ["workstation"]},
        },
        "groups": {
            "staging": {"vars": {"env": "staging", "debug": True}, "children": ["frontend", "backend"]},
            "frontend": {"children": ["canary"]},
        },
    }
    assert result.warnings == [
        f"{path}:33: host db01: variable replicas is a list; fleetdeck vars hold only scalars, skipped",
        f"{path}:35: host cache01: ansible_connection=docker is not supported by fleetdeck (only ssh and local), "
        "host skipped",
    ]
    assert result.host_count == 9
    assert_valid_hosts_toml(result)


def test_ansible_ini_and_yaml_agree(tmp_path: Path) -> None:
    ini = write(
        tmp_path / "hosts.ini",
        """
        [web]
        web[1:3] ansible_host=10.0.0.1
        [web:vars]
        tier=front
        [prod:children]
        web
        """,
    )
    yml = write(
        tmp_path / "hosts.yaml",
        """
        all:
          children:
            prod:
              children:
                web:
                  hosts:
                    web[1:3]: {ansible_host: 10.0.0.1}
                  vars: {tier: front}
        """,
    )
    expected = {
        "hosts": {"web[1-3]": {"address": "10.0.0.1", "groups": ["web"]}},
        "groups": {"web": {"vars": {"tier": "front"}}, "prod": {"children": ["web"]}},
    }
    assert import_ansible(ini).data == expected
    assert import_ansible(yml).data == expected


@pytest.mark.parametrize(
    ("pattern", "keys"),
    [
        ("web[01:20]", ["web[01-20]"]),
        ("web[1:20]", ["web[1-20]"]),
        ("web[001:20]", ["web[001-020]"]),
        ("web[01:100]", ["web[01-100]"]),
        ("node[:3]", ["node[0-3]"]),
        ("web[0:10:5]", ["web[0-10/5]"]),
        ("db-[a:c]", ["db-a", "db-b", "db-c"]),
        ("db-[x:B]", ["db-x", "db-y", "db-z", "db-A", "db-B"]),
        ("db-[a:e:2].lan", ["db-a.lan", "db-c.lan", "db-e.lan"]),
        ("r[a:b]-n[1:4]", ["ra-n[1-4]", "rb-n[1-4]"]),
        ("rack[1:2]-n[01:04]", ["rack[1-2]-n[01-04]"]),
    ],
)
def test_ansible_host_ranges(tmp_path: Path, pattern: str, keys: list[str]) -> None:
    result = import_ansible(write(tmp_path / "inventory", f"[g]\n{pattern}\n"))
    assert list(result.data["hosts"]) == keys
    assert_valid_hosts_toml(result)


def test_ansible_host_count_and_ports(tmp_path: Path) -> None:
    result = import_ansible(
        write(
            tmp_path / "inventory",
            """
            web[01:10]:2222
            10.0.0.9:2200 ansible_port=2300
            fe80::1
            """,
        )
    )
    assert result.data == {
        "hosts": {"web[01-10]": {"port": 2222}, "10.0.0.9": {"port": 2300}, "fe80::1": {}},
    }
    assert result.host_count == 12


def test_ansible_overlapping_node_set_is_expanded(tmp_path: Path) -> None:
    result = import_ansible(
        write(
            tmp_path / "hosts",
            """
            [web]
            web[1:3]
            [canary]
            web2 weight=5
            [db]
            db[1:2]
            """,
        )
    )
    assert result.data["hosts"] == {
        "web1": {"groups": ["web"]},
        "web2": {"groups": ["web", "canary"], "vars": {"weight": 5}},
        "web3": {"groups": ["web"]},
        "db[1-2]": {"groups": ["db"]},
    }
    assert_valid_hosts_toml(result)


def test_ansible_connection_var_precedence(tmp_path: Path) -> None:
    result = import_ansible(
        write(
            tmp_path / "inventory.yml",
            """
            all:
              vars: {ansible_user: root, ansible_port: 22}
              children:
                region:
                  vars: {ansible_user: regional, ansible_port: 2201}
                  children:
                    rack:
                      vars: {ansible_user: racked}
                      hosts:
                        r1:
                        r2: {ansible_user: own}
                zeta:
                  vars: {ansible_port: 2299}
                  hosts: {r1: , z1: }
                alpha:
                  vars: {ansible_port: 2211}
                  hosts: {z1: }
                prio:
                  vars: {ansible_port: 2222, ansible_group_priority: 10}
                  hosts: {p1: }
                low:
                  vars: {ansible_port: 2233}
                  hosts: {p1: }
            """,
        )
    )
    # Deeper groups beat shallower ones, equal depths go by priority then name, and host vars beat all:
    # for r1, zeta (depth 1) sorts after region (depth 1) so its port wins, and rack (depth 2) its user.
    assert result.data["defaults"] == {"user": "root", "port": 22}
    assert result.data["hosts"] == {
        "r1": {"user": "racked", "port": 2299, "groups": ["rack", "zeta"]},
        "r2": {"user": "own", "port": 2201, "groups": ["rack"]},
        "z1": {"port": 2299, "groups": ["zeta", "alpha"]},
        "p1": {"port": 2222, "groups": ["prio", "low"]},
    }
    assert result.warnings == []


def test_ansible_hoists_values_every_host_shares(tmp_path: Path) -> None:
    result = import_ansible(
        write(
            tmp_path / "hosts",
            """
            [db]
            db1
            db2
            [db:vars]
            ansible_user=postgres
            ansible_connection=local
            """,
        )
    )
    assert result.data == {
        "defaults": {"user": "postgres", "transport": "local"},
        "hosts": {"db1": {"groups": ["db"]}, "db2": {"groups": ["db"]}},
    }


def test_ansible_local_default_with_ssh_override(tmp_path: Path) -> None:
    result = import_ansible(
        write(
            tmp_path / "hosts",
            """
            here
            there ansible_connection=ssh ansible_host=203.0.113.5
            elsewhere ansible_connection=smart
            [all:vars]
            ansible_connection=local
            """,
        )
    )
    assert result.data == {
        "defaults": {"transport": "local"},
        "hosts": {
            "here": {},
            "there": {"address": "203.0.113.5", "transport": "ssh"},
            "elsewhere": {"transport": "ssh"},
        },
    }
    assert_valid_hosts_toml(result)


def test_ansible_ini_value_types(tmp_path: Path) -> None:
    result = import_ansible(
        write(
            tmp_path / "hosts",
            """
            h1 a=true b=False c=yes d=NO e=42 f=-7 g=007 h=3.10 i='quoted text' j="x=y" k=
            [all:vars]
            plain = some text ; not a comment
            quoted = "12"
            number = 12
            flag = yes
            """,
        )
    )
    assert result.data == {
        "defaults": {"vars": {"plain": "some text ; not a comment", "quoted": "12", "number": 12, "flag": True}},
        "hosts": {
            "h1": {
                "vars": {
                    "a": True,
                    "b": False,
                    "c": True,
                    "d": False,
                    "e": 42,
                    "f": -7,
                    "g": "007",
                    "h": "3.10",
                    "i": "quoted text",
                    "j": "x=y",
                    "k": "",
                }
            }
        },
    }
    assert_valid_hosts_toml(result)


def test_ansible_yaml_value_handling(tmp_path: Path) -> None:
    path = write(
        tmp_path / "inv.yaml",
        """
        all:
          hosts:
            h1:
              ansible_host: "{{ inventory_hostname }}.example.com"
              ansible_user: "{{ lookup('env', 'USER') }}"
              ansible_port: "2222"
              ansible_become: true
              released: 2024-05-01
              ratio: 1.5
              owner: null
              limits: {cpu: 2}
        """,
    )
    result = import_ansible(path)
    assert result.data == {
        "hosts": {
            "h1": {
                "address": "{name}.example.com",
                "port": 2222,
                "vars": {"released": "2024-05-01", "ratio": 1.5},
            }
        }
    }
    assert result.warnings == [
        f"{path}:5: host h1: ansible_user is a Jinja template, ignored",
        f"{path}:7: host h1: ansible_become has no fleetdeck equivalent, ignored",
        f"{path}:10: host h1: variable owner is null; fleetdeck vars hold only scalars, skipped",
        f"{path}:11: host h1: variable limits is a mapping; fleetdeck vars hold only scalars, skipped",
    ]


def test_ansible_yaml_ungrouped_and_empty_groups(tmp_path: Path) -> None:
    path = write(
        tmp_path / "inventory.yml",
        """
        all:
          children:
            ungrouped:
              hosts:
                lonely:
            empty:
            spare:
              children:
                empty:
            web:
              hosts:
                w1:
              extras: 1
        """,
    )
    result = import_ansible(path)
    assert result.data == {"hosts": {"lonely": {}, "w1": {"groups": ["web"]}}}
    assert result.warnings == [
        f"{path}:13: group web: unexpected key 'extras' (only hosts, vars and children are valid), ignored"
    ]


def test_ansible_format_is_sniffed_without_extension(tmp_path: Path) -> None:
    yaml_text = "all:\n  hosts:\n    a1:\n      ansible_port: 2200\n"
    ini_text = "a1 ansible_port=2200\n"
    assert import_ansible(write(tmp_path / "yaml_hosts", yaml_text)).data == {"hosts": {"a1": {"port": 2200}}}
    assert import_ansible(write(tmp_path / "ini_hosts", ini_text)).data == {"hosts": {"a1": {"port": 2200}}}
    assert import_ansible(write(tmp_path / "empty", "# nothing yet\n")) == ImportResult({}, [], 0)


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        ("bad.yml", "all:\n  hosts:\n    a: [1\n  vars: {}\n", 4, "invalid YAML: expected ',' or ']', but got ':'"),
        ("tabs.yaml", "all:\n\thosts:\n", 2, "invalid YAML: found character '\\t' that cannot start any token"),
        ("list.yml", "all:\n  hosts:\n    - web1\n", 2, "hosts of group 'all' must be a mapping, got a list"),
        ("group.yml", "all:\n  children:\n    web: web1\n", 3, "group 'web' must be a mapping, got the string 'web1'"),
        ("hostvars.yml", "all:\n  hosts:\n    web1: 22\n", 3, "vars of host 'web1' must be a mapping, got int"),
        ("top.yml", "- all\n", 1, "expected a mapping of groups at the top level"),
        (
            "aws.yml",
            "# dynamic\nplugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n",
            2,
            "this is a configuration for the 'amazon.aws.aws_ec2' inventory plugin, not a static inventory; "
            "export one with `ansible-inventory --list --yaml` and import that",
        ),
        (
            "list.json",
            '{\n  "_meta": {"hostvars": {}},\n  "all": {"children": ["ungrouped"]}\n}\n',
            2,
            "this is `ansible-inventory --list` JSON output, which lists hosts rather than describing groups; "
            "export with `ansible-inventory --list --yaml` and import that",
        ),
        (
            "port.yml",
            "all:\n  hosts:\n    a:\n      ansible_port: ssh\n",
            4,
            "host a: ansible_port must be a port number, got 'ssh'",
        ),
        ("hosts.ini", "[web\nweb1\n", 1, "invalid section header '[web'"),
        (
            "hosts.ini",
            "[web:hosts]\nw\n[web:variables]\n",
            3,
            "invalid section type 'variables'; expected vars, children or hosts",
        ),
        ("hosts.ini", "[web]\nweb1 ansible_port\n", 2, "expected key=value host variable, got 'ansible_port'"),
        ("hosts.ini", "[web]\nweb1 note='unclosed\n", 2, "cannot parse host line: No closing quotation"),
        ("hosts.ini", "[web:vars]\n\nhttp_port: 80\n", 3, "expected key=value, got 'http_port: 80'"),
        ("hosts.ini", "[web:children]\nweb api\n", 2, "invalid child group name 'web api'"),
        ("hosts.ini", "[web]\nweb[a:3]\n", 2, "range [a:3] mixes digits and letters in 'web[a:3]'"),
        ("hosts.ini", "[web]\nweb[9:3]\n", 2, "empty range [9:3] in host pattern 'web[9:3]'"),
        ("hosts.ini", "[web]\nweb[1-3]\n", 2, "invalid range [1-3] in host pattern 'web[1-3]'"),
        ("hosts.ini", "[web]\nweb]1\n", 2, "unbalanced brackets in host pattern 'web]1'"),
    ],
)
def test_ansible_malformed_inventories(tmp_path: Path, name: str, text: str, line: int, reason: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InventoryImportError) as caught:
        import_ansible(path)
    assert str(caught.value) == f"{path}:{line}: {reason}"
    assert (caught.value.path, caught.value.line) == (str(path), line)


def test_ansible_group_cycle(tmp_path: Path) -> None:
    path = write(tmp_path / "hosts", "[a:children]\nb\n[b:children]\nc\n[c:children]\na\n")
    with pytest.raises(InventoryImportError, match=r"group nesting forms a cycle: (\w -> ){3}\w$"):
        import_ansible(path)


def test_ansible_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryImportError, match="cannot read file"):
        import_ansible(tmp_path / "missing.ini")


def test_import_result_is_frozen() -> None:
    result = ImportResult(data={}, warnings=[], host_count=0)
    with pytest.raises(AttributeError):
        result.host_count = 1  # type: ignore[misc]


def test_import_error_is_a_value_error() -> None:
    error = InventoryImportError("broken", "hosts.ini", 3)
    assert isinstance(error, ValueError)
    assert str(error) == "hosts.ini:3: broken"
    assert str(InventoryImportError("no location")) == "no location"
