"""Transports: how commands reach hosts (asyncssh pool, or this machine), behind one interface."""

from __future__ import annotations

from fleetdeck.core.inventory import Host
from fleetdeck.core.transport.base import CommandResult, OutputCallback, StdinSource, Transport
from fleetdeck.core.transport.errors import (
    AuthFailed,
    ConnectionLost,
    HostKeyFailed,
    TransportError,
    Unreachable,
)
from fleetdeck.core.transport.local import LocalTransport
from fleetdeck.core.transport.ssh import SshLimits, SshTransport

__all__ = [
    "AuthFailed",
    "CommandResult",
    "ConnectionLost",
    "HostKeyFailed",
    "LocalTransport",
    "OutputCallback",
    "SshLimits",
    "SshTransport",
    "StdinSource",
    "Transport",
    "TransportError",
    "Transports",
    "Unreachable",
]


class Transports:
    """Picks the transport for each host: SSH for most, local for ``transport = "local"``."""

    def __init__(self, ssh: SshTransport, local: LocalTransport | None = None) -> None:
        self.ssh = ssh
        self.local = local or LocalTransport()

    def for_host(self, host: Host) -> Transport:
        """The transport that reaches ``host``."""
        return self.local if host.is_local else self.ssh

    async def close(self) -> None:
        """Close pooled connections."""
        await self.ssh.close()
        await self.local.close()
