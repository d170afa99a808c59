"""The SSH and local transports against real hosts: output, exit codes, timeouts, kills, key checks."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncssh
import asyncssh.connection
import asyncssh.packet
import pytest
from asyncssh.constants import MSG_CHANNEL_DATA, MSG_CHANNEL_REQUEST, MSG_IGNORE

from fleet import SshFleet
from fleetdeck.core.config import load_config
from fleetdeck.core.inventory import Host
from fleetdeck.core.transport import (
    AuthFailed,
    HostKeyFailed,
    LocalTransport,
    SshTransport,
    Unreachable,
)
from fleetdeck.core.transport.hostkeys import KnownHosts
from fleetdeck.core.transport.intake import Intake
from fleetdeck.core.transport.ssh import AEAD_CIPHERS, drop_ignore_packets, skip_packet_logs

pytestmark = pytest.mark.ssh


class Collect:
    def __init__(self) -> None:
        self.chunks: list[tuple[str, bytes]] = []

    def __call__(self, stream: str, data: bytes) -> None:
        self.chunks.append((stream, data))

    def text(self, stream: str = "stdout") -> str:
        return b"".join(d for s, d in self.chunks if s == stream).decode()


def connect_plain(fleet: SshFleet, host: Host, **options: Any) -> Any:
    """A connection to a fleet host straight from asyncssh (for `async with`), without the transport's pool."""
    return asyncssh.connect(
        host.address,
        port=host.port,
        username=host.user,
        known_hosts=str(fleet.known_hosts),
        client_keys=[str(fleet.client_key)],
        **options,
    )


def hosts_of(fleet: SshFleet) -> list[Host]:
    return load_config(fleet.config_dir).inventory.hosts


@pytest.fixture
def transport(ssh_fleet: SshFleet, tmp_path: Path) -> Iterator[SshTransport]:
    inv = load_config(ssh_fleet.config_dir).inventory
    yield SshTransport(KnownHosts(tmp_path / "known_hosts"), inv.get)


async def test_runs_commands_and_reuses_the_connection(ssh_fleet: SshFleet, transport: SshTransport) -> None:
    host = hosts_of(ssh_fleet)[0]
    out = Collect()
    result = await transport.execute(host, "echo hello; echo oops >&2; exit 3", out)
    assert result.exit_status == 3
    assert out.text() == "hello\n" and out.text("stderr") == "oops\n"
    conn = await transport.connection(host)
    second = await transport.execute(host, "id -un", out)
    assert second.exit_status == 0 and (await transport.connection(host)) is conn
    await transport.close()


async def test_stdin_is_fed(ssh_fleet: SshFleet, transport: SshTransport) -> None:
    async def feed() -> AsyncIterator[bytes]:
        yield b"secret\n"
        yield b"echo from script $X\n"

    out = Collect()
    result = await transport.execute(hosts_of(ssh_fleet)[1], "IFS= read -r X; export X; sh -s", out, stdin=feed)
    assert result.exit_status == 0
    assert out.text() == "from script secret\n"
    await transport.close()


async def test_timeout_kills_the_remote_process(ssh_fleet: SshFleet, transport: SshTransport) -> None:
    host = hosts_of(ssh_fleet)[2]
    marker = f"fdsleep{int(time.time() * 1000) % 100000}"
    out = Collect()
    start = time.monotonic()
    result = await transport.execute(host, f"sleep 30 # {marker}", out, timeout=1.0)
    assert result.timed_out == "timeout"
    assert time.monotonic() - start < 6
    assert result.kill_confirmed is True
    check = Collect()
    await asyncio.sleep(0.3)
    await transport.execute(host, f"pgrep -f '[{marker[0]}]{marker[1:]}' || echo gone", check)
    assert check.text().strip() == "gone"
    await transport.close()


async def test_no_output_timeout(ssh_fleet: SshFleet, transport: SshTransport) -> None:
    out = Collect()
    result = await transport.execute(
        hosts_of(ssh_fleet)[0], "echo start; sleep 0.5; echo tick; sleep 20", out, no_output_timeout=1.5, timeout=30
    )
    assert result.timed_out == "no_output"
    assert out.text() == "start\ntick\n"
    await transport.close()


async def test_cancel_kills_the_remote_process(ssh_fleet: SshFleet, transport: SshTransport) -> None:
    host = hosts_of(ssh_fleet)[3]
    marker = f"fdcancel{int(time.time() * 1000) % 100000}"
    task = asyncio.ensure_future(transport.execute(host, f"sleep 40 # {marker}", Collect()))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    check = Collect()
    await asyncio.sleep(0.3)
    await transport.execute(host, f"pgrep -f '[{marker[0]}]{marker[1:]}' || echo gone", check)
    assert check.text().strip() == "gone"
    await transport.close()


async def test_closed_port_is_unreachable(ssh_fleet: SshFleet, tmp_path: Path) -> None:
    host = replace(hosts_of(ssh_fleet)[0], port=1, name="closed")
    t = SshTransport(KnownHosts(tmp_path / "kh"), lambda n: host)
    with pytest.raises(Unreachable, match=r"closed: cannot connect to .*:1: "):
        await t.execute(host, "true", Collect())


async def test_silent_listener_times_out_without_hanging(ssh_fleet: SshFleet, tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    try:
        host = replace(
            hosts_of(ssh_fleet)[0],
            name="silent",
            address="127.0.0.1",
            port=listener.getsockname()[1],
            connect_timeout=1.0,
        )
        t = SshTransport(KnownHosts(tmp_path / "kh"), lambda n: host)
        start = time.monotonic()
        with pytest.raises(Unreachable, match="silent: connect timeout after 1s"):
            await t.execute(host, "true", Collect())
        assert time.monotonic() - start < 5
    finally:
        listener.close()


async def test_unknown_and_changed_host_keys(ssh_fleet: SshFleet, tmp_path: Path) -> None:
    base = hosts_of(ssh_fleet)[0]
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    host = replace(base, known_hosts=str(empty))
    t = SshTransport(KnownHosts(tmp_path / "own_kh"), lambda n: host)
    with pytest.raises(HostKeyFailed, match=r"is not known: server sent SHA256:"):
        await t.execute(host, "true", Collect())
    assert not (tmp_path / "own_kh").exists(), "strict policy must never record a key"

    # accept-new records the key in fleetdeck's own file, never the user's, and then trusts it.
    accepting = replace(host, host_key_policy="accept-new")
    t2 = SshTransport(KnownHosts(tmp_path / "own_kh"), lambda n: accepting)
    assert (await t2.execute(accepting, "true", Collect())).exit_status == 0
    assert empty.read_text() == ""
    assert base.address in (tmp_path / "own_kh").read_text()
    await t2.close()

    # A different key for a recorded host fails, naming both fingerprints.
    other = tmp_path / "other_key"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    changed = tmp_path / "changed_known_hosts"
    changed.write_text(f"[{base.address}]:{base.port} {(other.with_suffix('.pub')).read_text()}")
    bad = replace(base, known_hosts=str(changed), host_key_policy="accept-new")
    t3 = SshTransport(KnownHosts(tmp_path / "own_kh2"), lambda n: bad)
    with pytest.raises(HostKeyFailed, match=r"has CHANGED: server sent SHA256:\S+, recorded SHA256:"):
        await t3.execute(bad, "true", Collect())


async def test_wrong_user_key_is_auth_failed(ssh_fleet: SshFleet, tmp_path: Path) -> None:
    import subprocess

    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    host = replace(hosts_of(ssh_fleet)[0], identity_file=str(key))
    t = SshTransport(KnownHosts(tmp_path / "kh"), lambda n: host)
    with pytest.raises(AuthFailed, match=r"authentication failed for fleetdeck-test@"):
        await t.execute(host, "true", Collect())


async def test_jump_host_chain(ssh_fleet: SshFleet, tmp_path: Path) -> None:
    hosts = hosts_of(ssh_fleet)
    bastion = hosts[0]
    inner = replace(hosts[1], jump=bastion.name)
    deeper = replace(hosts[2], jump=inner.name)
    by_name = {h.name: h for h in (bastion, inner, deeper)}
    t = SshTransport(KnownHosts(tmp_path / "kh"), by_name.__getitem__)
    out = Collect()
    assert (await t.execute(deeper, "echo via two hops", out)).exit_status == 0
    assert out.text() == "via two hops\n"
    assert t.is_connected(bastion) and t.is_connected(inner)
    await t.close()


async def test_local_transport_timeout_kills_the_group() -> None:
    host = Host(name="localhost", address="localhost", user="me", transport="local")
    out = Collect()
    result = await LocalTransport().execute(host, "echo a; (sleep 30; echo never) & wait", out, timeout=0.5)
    assert result.timed_out == "timeout" and result.kill_confirmed is True
    assert out.text() == "a\n"
    ok = await LocalTransport().execute(host, "printf 'x%.0s' 1 2 3; exit 4", out)
    assert ok.exit_status == 4


FLOOD_BYTES = 20_000_000


@pytest.mark.parametrize("kind", ["ssh", "local"])
async def test_a_held_intake_takes_no_output_and_loses_none(ssh_fleet: SshFleet, tmp_path: Path, kind: str) -> None:
    """A console holds the intake while a key is in flight: the flood waits in buffers and arrives whole after."""
    intake = Intake(max_hold_s=60)
    if kind == "ssh":
        host = hosts_of(ssh_fleet)[0]
        transport: SshTransport | LocalTransport = SshTransport(
            KnownHosts(tmp_path / "kh"), load_config(ssh_fleet.config_dir).inventory.get, intake=intake
        )
    else:
        host = Host(name="localhost", address="localhost", user="me", transport="local")
        transport = LocalTransport(intake)
    received = 0
    at_hold: int | None = None
    releases: list[Any] = []

    def on_output(_stream: str, data: bytes) -> None:
        nonlocal received, at_hold
        received += len(data)
        if not releases and received >= 1_000_000:
            releases.append(intake.hold())
            at_hold = received

    running = asyncio.ensure_future(
        transport.execute(host, f"head -c {FLOOD_BYTES} /dev/zero", on_output, no_output_timeout=0.1)
    )
    deadline = time.monotonic() + 20
    while not releases:
        assert time.monotonic() < deadline and not running.done(), "the flood never reached 1 MB"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.3)  # three no-output timeouts, all of it held
    assert received == at_hold and not running.done()
    releases[0]()
    result = await asyncio.wait_for(running, 30)
    assert result.exit_status == 0 and result.timed_out is None
    assert received == FLOOD_BYTES
    await transport.close()


def spy_sent_packets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the type of every packet any SSH connection puts on the wire from now on (channels' included)."""
    sent: list[int] = []
    send_packet = asyncssh.connection.SSHConnection.send_packet

    def spy(self: asyncssh.connection.SSHConnection, pkttype: int, *args: bytes, handler: object = None) -> None:
        sent.append(pkttype)
        send_packet(self, pkttype, *args, handler=handler)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncssh.connection.SSHConnection, "send_packet", spy)
    return sent


async def test_no_ignore_packet_ahead_of_each_packet_on_an_aead_cipher(
    ssh_fleet: SshFleet, transport: SshTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = spy_sent_packets(monkeypatch)
    host = hosts_of(ssh_fleet)[0]
    conn = await transport.connection(host)
    assert conn.get_extra_info("send_cipher") in AEAD_CIPHERS
    sent.clear()

    async def feed() -> AsyncIterator[bytes]:
        yield b"one\n"
        yield b"two\n"

    out = Collect()
    result = await asyncio.wait_for(transport.execute(host, "cat", out, stdin=feed), 20)
    assert out.text() == "one\ntwo\n"
    assert result.exit_status == 0
    assert sent.count(MSG_CHANNEL_DATA) >= 2 and MSG_IGNORE not in sent
    await transport.close()


async def test_ignore_packets_stay_on_a_cipher_that_is_not_aead(
    ssh_fleet: SshFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = spy_sent_packets(monkeypatch)
    host = hosts_of(ssh_fleet)[0]
    async with connect_plain(ssh_fleet, host, encryption_algs=["aes128-ctr"]) as conn:
        assert not drop_ignore_packets(conn)
        sent.clear()
        await conn.run("true", check=True)
        assert MSG_CHANNEL_REQUEST in sent and MSG_IGNORE in sent


async def test_packet_logs_are_skipped_while_off_and_written_when_packet_logging_is_on(
    ssh_fleet: SshFleet, transport: SshTransport, caplog: pytest.LogCaptureFixture
) -> None:
    host = hosts_of(ssh_fleet)[0]
    conn = await transport.connection(host)
    formatted: list[int] = []
    real = asyncssh.packet.SSHPacketLogger._log_packet

    def counting(self: object, *args: object) -> None:
        formatted.append(1)
        real(self, *args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncssh.packet.SSHPacketLogger, "_log_packet", counting)
        await conn.run("true", check=True)
        assert formatted, "asyncssh formats the packets of a channel that was left alone"
        async with conn.create_process("cat") as proc:
            assert skip_packet_logs(proc.channel)
            formatted.clear()
            proc.stdin.write("one\n")
            assert await asyncio.wait_for(proc.stdout.readline(), 10) == "one\n"
            proc.stdin.write_eof()
        assert formatted == [], "a skipped connection and channel format no packet log"
    asyncssh.set_debug_level(3)
    try:
        async with connect_plain(ssh_fleet, host) as logged:
            assert not skip_packet_logs(logged), "packet logging is on: keep it"
    finally:
        asyncssh.set_debug_level(1)
    await transport.close()
