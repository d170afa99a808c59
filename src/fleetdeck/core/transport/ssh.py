"""SSH transport over asyncssh: one pooled connection per host, shared by runs and health collection.

Connections are opened on first use and kept until closed or lost; concurrent users of one host wait
for the same handshake instead of racing. Handshakes are limited globally (sshd's MaxStartups and the
client's CPU) and per jump host (a bastion is one sshd for many tunnels). Jump hosts are themselves
pooled hosts, so ``jump`` chains give multi-hop for free.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.constants import MSG_IGNORE

from fleetdeck.core.inventory import Host
from fleetdeck.core.transport.base import (
    STAGE_DIR_COMMAND,
    CommandResult,
    OutputCallback,
    StdinSource,
    check_stage_dir,
    guard_command,
    staged_name,
)
from fleetdeck.core.transport.errors import AuthFailed, ConnectionLost, HostKeyFailed, TransportError, Unreachable
from fleetdeck.core.transport.hostkeys import HostKeyCheck, KnownHosts
from fleetdeck.core.transport.intake import UNHELD, Intake
from fleetdeck.core.transport.session import Exit, Session, drive


@dataclass(frozen=True, slots=True)
class SshLimits:
    """Concurrency limits of connection setup (hosts in flight are the runner's limit)."""

    max_handshakes: int = 32
    jump_handshakes: int = 8
    keepalive_s: float = 15.0


ENCRYPTION_PREFERENCE = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)
"""asyncssh's default ciphers with AES-GCM first: one AEAD call per packet in `cryptography` (hardware AES
on any x86 or arm64 server) costs the client less than ChaCha20-Poly1305, which asyncssh drives from Python
with a cipher context per packet; a health watch decrypts a packet per host per tick. SSH uses the first
of these that the server also offers."""


class _Client(asyncssh.SSHClient):
    def __init__(self, check: HostKeyCheck, on_lost: Callable[[], None]) -> None:
        self._check = check
        self._on_lost = on_lost

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        return self._check.validate(host, addr, port, key)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost()


AEAD_CIPHERS = frozenset({"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"})
"""Ciphers that authenticate every packet as a whole, so an `SSH_MSG_IGNORE` ahead of each one protects nothing."""

_EMPTY_STRING = b"\0\0\0\0"
"""An SSH string of no bytes: the payload of the ignore packets asyncssh adds."""


def drop_ignore_packets(conn: asyncssh.SSHClientConnection) -> bool:
    """Stop asyncssh sending an empty `SSH_MSG_IGNORE` ahead of every packet, when the cipher is AEAD.

    asyncssh adds one before each packet once keys are in place: the countermeasure against the CBC-mode
    plaintext recovery attack (RFC 4251, section 9.3.1), which AEAD ciphers are not open to; OpenSSH sends none.
    It doubles the packets of every small write: each health request (a newline to a probe) went out as two
    packets, two encryptions, two `send` calls. Only the connection's own empty ignore packets are dropped, and only
    on an AEAD cipher; with CTR or CBC they stay.

    Returns:
        Whether the connection now leaves them out.
    """
    if conn.get_extra_info("send_cipher") not in AEAD_CIPHERS:
        return False
    send = conn.send_packet

    def send_packet(pkttype: int, *args: bytes, handler: Any = None) -> None:
        if pkttype == MSG_IGNORE and args == (_EMPTY_STRING,):
            return
        send(pkttype, *args, handler=handler)

    setattr(conn, "send_packet", send_packet)  # noqa: B010  (an instance attribute shadows the method)
    return True


PACKET_LOG_LEVEL = 3
"""asyncssh's debug level at which it logs packets (`asyncssh.set_debug_level`)."""


def skip_packet_logs(handler: object) -> bool:
    """Stop asyncssh preparing a log line for every packet of `handler` (a connection or a channel) that its
    logger would drop.

    asyncssh copies each packet's payload, looks up its name and formats a message for every packet sent or
    received, and only then does its logger find that packet logging (debug level 3) is off. A health channel
    has two packets a tick (the request and the frame). Nothing is changed when packet logging is on.

    Returns:
        Whether the handler now skips them.
    """
    logger = getattr(handler, "logger", None)
    if getattr(logger, "_debug_level", PACKET_LOG_LEVEL) >= PACKET_LOG_LEVEL:
        return False
    setattr(handler, "log_received_packet", _no_packet_log)  # noqa: B010  (an instance attribute shadows it)
    setattr(handler, "log_sent_packet", _no_packet_log)  # noqa: B010
    return True


def _no_packet_log(pkttype: int, pktid: int | None, packet: object, note: str = "") -> None:
    """Stands in for asyncssh's packet logging while it is off."""


@dataclass(slots=True)
class _Pooled:
    conn: asyncssh.SSHClientConnection
    alive: bool = True


class SshTransport:
    """Runs commands over pooled asyncssh connections."""

    def __init__(
        self,
        known_hosts: KnownHosts,
        lookup: Callable[[str], Host],
        limits: SshLimits | None = None,
        intake: Intake = UNHELD,
    ) -> None:
        """Create the pool.

        Args:
            known_hosts: The host key files in use (user's and fleetdeck's own).
            lookup: Finds a host of the inventory by name (for ``jump``).
            limits: Handshake limits.
            intake: Paces the reading of commands' output (a console holds it while a key is in flight).
        """
        self.intake = intake
        self.known_hosts = known_hosts
        self.lookup = lookup
        self.limits = limits or SshLimits()
        self._pool: dict[str, _Pooled] = {}
        self._pending: dict[str, asyncio.Future[asyncssh.SSHClientConnection]] = {}
        self._handshakes = asyncio.Semaphore(self.limits.max_handshakes)
        self._jump_slots: dict[str, asyncio.Semaphore] = {}
        self._key_cache: dict[str, tuple[int, list[asyncssh.SSHKeyPair]]] = {}

    def _keys(self, host: Host) -> list[asyncssh.SSHKeyPair]:
        """The host's identity file, parsed once per file version and shared by every connection using it."""
        assert host.identity_file is not None
        path = Path(host.identity_file).expanduser()
        try:
            stamp = path.stat().st_mtime_ns
        except OSError as exc:
            raise TransportError(f"{host.name}: cannot read identity file {path}: {exc.strerror}") from None
        cached = self._key_cache.get(str(path))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            keys = list(asyncssh.load_keypairs([str(path)]))
        except (asyncssh.KeyImportError, OSError) as exc:
            raise TransportError(f"{host.name}: cannot use identity file {path}: {exc}") from None
        self._key_cache[str(path)] = (stamp, keys)
        return keys

    def is_connected(self, host: Host) -> bool:
        """True when a live pooled connection to ``host`` exists."""
        pooled = self._pool.get(host.name)
        return pooled is not None and pooled.alive

    async def connection(self, host: Host, _trail: tuple[str, ...] = ()) -> asyncssh.SSHClientConnection:
        """The pooled connection to ``host``, opening it (and its jump chain) when needed."""
        pooled = self._pool.get(host.name)
        if pooled is not None and pooled.alive:
            return pooled.conn
        pending = self._pending.get(host.name)
        if pending is None:
            pending = asyncio.ensure_future(self._connect(host, _trail))
            self._pending[host.name] = pending
            name = host.name

            def forget(_: asyncio.Future[asyncssh.SSHClientConnection]) -> None:
                self._pending.pop(name, None)

            pending.add_done_callback(forget)
        return await asyncio.shield(pending)

    async def _connect(self, host: Host, trail: tuple[str, ...]) -> asyncssh.SSHClientConnection:
        tunnel: asyncssh.SSHClientConnection | None = None
        slot: asyncio.Semaphore | contextlib.nullcontext[None] = contextlib.nullcontext()
        if host.jump:
            if host.jump in trail:
                raise TransportError(f"{host.name}: jump loop through {' -> '.join((*trail, host.jump))}")
            try:
                jump_host = self.lookup(host.jump)
            except KeyError:
                raise TransportError(f'{host.name}: jump host "{host.jump}" is not in the inventory') from None
            try:
                tunnel = await self.connection(jump_host, (*trail, host.name))
            except TransportError as exc:
                raise type(exc)(f"{host.name}: via jump host {host.jump}: {exc}") from exc
            slot = self._jump_slots.setdefault(host.jump, asyncio.Semaphore(self.limits.jump_handshakes))
        check = HostKeyCheck(host, self.known_hosts)
        holder: dict[str, _Pooled] = {}

        def lost() -> None:
            if "p" in holder:
                holder["p"].alive = False

        kwargs: dict[str, Any] = {
            "port": host.port,
            "username": host.user,
            "known_hosts": check.known_hosts_arg(),
            "client_factory": lambda: _Client(check, lost),
            "connect_timeout": host.connect_timeout,
            "keepalive_interval": self.limits.keepalive_s,
            "keepalive_count_max": 3,
            "encryption_algs": ENCRYPTION_PREFERENCE,
        }
        if host.identity_file:
            kwargs["client_keys"] = self._keys(host)
        if tunnel is not None:
            kwargs["tunnel"] = tunnel
        where = f"{host.user}@{host.address}:{host.port}"
        async with self._handshakes, slot:
            try:
                conn = await asyncio.wait_for(asyncssh.connect(host.address, **kwargs), host.connect_timeout + 2.0)
            except asyncssh.HostKeyNotVerifiable as exc:
                message = check.problem.message if check.problem else f"{host.name}: host key not verifiable: {exc}"
                raise HostKeyFailed(message) from None
            except asyncssh.PermissionDenied as exc:
                keys = host.identity_file or "the SSH agent's and ~/.ssh keys"
                raise AuthFailed(
                    f"{host.name}: authentication failed for {where} ({exc.reason}; offered {keys})"
                ) from None
            except TimeoutError:
                raise Unreachable(
                    f"{host.name}: connect timeout after {host.connect_timeout:g}s ({where}: no SSH handshake)"
                ) from None
            except asyncssh.KeyImportError as exc:
                raise TransportError(f"{host.name}: cannot use identity file {host.identity_file}: {exc}") from None
            except (OSError, asyncssh.Error) as exc:
                errno_ = getattr(exc, "errno", None)
                reason = (
                    os.strerror(errno_)
                    if isinstance(errno_, int) and errno_ > 0
                    else getattr(exc, "reason", None) or str(exc) or type(exc).__name__
                )
                raise Unreachable(f"{host.name}: cannot connect to {where}: {reason}") from None
        drop_ignore_packets(conn)
        skip_packet_logs(conn)
        pooled = _Pooled(conn)
        holder["p"] = pooled
        self._pool[host.name] = pooled
        return conn

    async def execute(
        self,
        host: Host,
        command: str,
        on_output: OutputCallback,
        *,
        stdin: StdinSource | None = None,
        timeout: float | None = None,
        no_output_timeout: float | None = None,
    ) -> CommandResult:
        """Run ``command`` on ``host`` over its pooled connection."""
        conn = await self.connection(host)
        try:
            proc = await conn.create_process(guard_command(command, timeout), encoding=None)
        except (asyncssh.ChannelOpenError, asyncssh.ConnectionLost, OSError) as exc:
            self._drop(host)
            raise ConnectionLost(f"{host.name}: cannot open a session: {exc}") from None

        async def wait() -> Exit:
            await proc.wait_closed()
            signal = proc.exit_signal[0] if proc.exit_signal else None
            if proc.exit_status is None and signal is None and not self.is_connected(host):
                raise ConnectionLost(f"{host.name}: connection lost while the command ran")
            status = proc.exit_status if proc.exit_status is not None and proc.exit_status >= 0 else None
            return Exit(status, signal)

        def send(signal: str) -> None:
            proc.send_signal(signal)

        def kill() -> None:
            with contextlib.suppress(OSError):
                send("KILL")
            proc.close()

        session = Session(
            stdout=proc.stdout,
            stderr=proc.stderr,
            stdin=proc.stdin,
            wait=wait,
            terminate=lambda: send("TERM"),
            kill=kill,
        )
        try:
            result = await drive(
                session,
                on_output,
                stdin=stdin,
                timeout=timeout,
                no_output_timeout=no_output_timeout,
                intake=self.intake,
            )
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, BrokenPipeError, ConnectionError) as exc:
            self._drop(host)
            raise ConnectionLost(f"{host.name}: connection lost while the command ran ({exc})") from None
        finally:
            proc.close()
        lost = result.exit_status is None and result.signal is None and result.timed_out is None
        if lost and not self.is_connected(host):
            raise ConnectionLost(f"{host.name}: connection lost while the command ran")
        return result

    async def stage_file(self, host: Host, local: Path) -> tuple[str, str]:
        """Upload ``local`` over SFTP into a fresh 0700 temp dir on the host."""
        out = bytearray()
        err = bytearray()

        def collect(stream: str, data: bytes) -> None:
            (out if stream == "stdout" else err).extend(data)

        result = await self.execute(host, STAGE_DIR_COMMAND, collect, timeout=30)
        if result.exit_status != 0:
            reason = err.decode(errors="replace").strip() or f"exit status {result.exit_status}"
            raise TransportError(f"{host.name}: cannot make a temp dir for the script: {reason}")
        try:
            remote_dir = check_stage_dir(host.name, out.decode(errors="replace"))
        except ValueError as exc:
            raise TransportError(str(exc)) from None
        remote = f"{remote_dir}/{staged_name(local)}"
        conn = await self.connection(host)
        try:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(local), remote)
                await sftp.chmod(remote, 0o700)
        except (asyncssh.Error, OSError) as exc:
            await self.remove_dir(host, remote_dir)
            raise TransportError(f"{host.name}: SFTP upload of {local.name} failed: {exc}") from None
        return remote, remote_dir

    async def remove_dir(self, host: Host, remote_dir: str) -> None:
        """Remove the temp dir of an uploaded script; failures are ignored (the dir is private)."""
        with contextlib.suppress(TransportError, OSError, asyncssh.Error):
            await self.execute(host, f"rm -rf -- {remote_dir}", lambda _s, _d: None, timeout=30)

    def _drop(self, host: Host) -> None:
        pooled = self._pool.pop(host.name, None)
        if pooled is not None:
            pooled.alive = False
            pooled.conn.close()

    async def close(self) -> None:
        """Close every pooled connection (jump hosts last, since tunnels ride on them)."""
        pooled = list(self._pool.values())
        self._pool.clear()
        for p in reversed(pooled):
            p.conn.close()
        for p in reversed(pooled):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(p.conn.wait_closed(), 2.0)
