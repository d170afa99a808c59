"""The SSH test fleet itself: real sshd, strict host keys, restarts and sharding."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tomllib
from pathlib import Path

import asyncssh
import pytest

from fleet import FleetFactory, SshFleet

pytestmark = pytest.mark.ssh


async def _run(
    fleet: SshFleet, address: str, command: str = "echo ok; id -un", known_hosts: Path | None = None
) -> asyncssh.SSHCompletedProcess:
    """Run a command the way fleetdeck will: public key, strict known_hosts, no user ssh config."""
    async with asyncssh.connect(
        address,
        port=fleet.port,
        username=fleet.user,
        client_keys=[str(fleet.client_key)],
        known_hosts=str(known_hosts or fleet.known_hosts),
        config=None,
        connect_timeout=5,
    ) as conn:
        return await conn.run(command, check=True)


def test_addresses_and_names_continue_past_250_hosts(tmp_path: Path) -> None:
    fleet = SshFleet(tmp_path, 252)
    assert fleet.hosts[0] == ("h001", "127.0.1.1")
    assert fleet.hosts[249] == ("h250", "127.0.1.250")
    assert fleet.hosts[250] == ("h251", "127.0.2.1")
    assert fleet.n_shards == 16


async def test_every_host_answers_with_strict_host_keys(ssh_fleet: SshFleet) -> None:
    assert ssh_fleet.user != "root"
    results = await asyncio.gather(*(_run(ssh_fleet, address) for address in ssh_fleet.addresses))
    assert [r.stdout for r in results] == [f"ok\n{ssh_fleet.user}\n"] * len(ssh_fleet.hosts)


def test_hosts_toml_describes_the_fleet(ssh_fleet: SshFleet) -> None:
    assert ssh_fleet.hosts_toml.parent == ssh_fleet.config_dir
    assert (ssh_fleet.config_dir / "tasks.toml").exists()
    document = tomllib.loads(ssh_fleet.hosts_toml.read_text())
    assert document["defaults"] == {
        "user": ssh_fleet.user,
        "port": ssh_fleet.port,
        "identity_file": str(ssh_fleet.client_key),
        "known_hosts": str(ssh_fleet.known_hosts),
        "host_key_policy": "strict",
        "connect_timeout": 5,
    }
    assert document["hosts"] == {
        "h01": {"address": "127.0.1.1", "groups": ["fleet"]},
        "h02": {"address": "127.0.1.2", "groups": ["fleet"]},
        "h03": {"address": "127.0.1.3", "groups": ["fleet"]},
        "h04": {"address": "127.0.1.4", "groups": ["fleet"]},
    }


def test_openssh_client_works_through_generated_ssh_config(ssh_fleet: SshFleet) -> None:
    ssh = shutil.which("ssh")
    if ssh is None:
        pytest.skip("OpenSSH client not found: install openssh-client")
    for name, _address in (ssh_fleet.hosts[0], ssh_fleet.hosts[-1]):
        result = subprocess.run(
            [ssh, "-F", str(ssh_fleet.ssh_config), name, "echo ok; id -un"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"ok\n{ssh_fleet.user}\n"


async def test_wrong_host_key_is_rejected(ssh_fleet: SshFleet, tmp_path: Path) -> None:
    other_key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    address = ssh_fleet.addresses[0]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[{address}]:{ssh_fleet.port} {other_key}\n")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await _run(ssh_fleet, address, known_hosts=wrong)


async def test_stop_sshd_takes_hosts_down_and_start_sshd_brings_them_back(make_fleet: FleetFactory) -> None:
    fleet = make_fleet(2)
    port, address = fleet.port, fleet.addresses[0]
    async with asyncssh.connect(
        address,
        port=port,
        username=fleet.user,
        client_keys=[str(fleet.client_key)],
        known_hosts=str(fleet.known_hosts),
        config=None,
    ) as conn:
        fleet.stop_sshd()
        # Open sessions drop too, as they would when a real host goes away.
        await asyncio.wait_for(conn.wait_closed(), timeout=5)
    assert not fleet.running
    with pytest.raises(OSError):
        await _run(fleet, address)

    fleet.start_sshd()
    assert fleet.port == port
    results = await asyncio.gather(*(_run(fleet, a) for a in fleet.addresses))
    assert all(r.stdout == f"ok\n{fleet.user}\n" for r in results)


async def test_forty_hosts_in_three_shards_answer_concurrently(make_fleet: FleetFactory) -> None:
    fleet = make_fleet(40)
    assert fleet.n_shards == 3
    assert len(fleet.pids) == 3
    assert fleet.hosts[-1] == ("h40", "127.0.1.40")
    results = await asyncio.gather(*(_run(fleet, address) for address in fleet.addresses))
    assert [r.stdout for r in results] == [f"ok\n{fleet.user}\n"] * 40
