"""Why a host could not run a command, each mapped to the host status the run reports."""

from __future__ import annotations

from typing import ClassVar, Literal

FailureStatus = Literal["unreachable", "auth_failed", "host_key_failed", "error"]


class TransportError(Exception):
    """A host could not be reached or used; the message names the host and the reason."""

    status: ClassVar[FailureStatus] = "error"


class Unreachable(TransportError):
    """TCP connect failed, timed out, or the connection dropped."""

    status = "unreachable"


class ConnectionLost(Unreachable):
    """The connection dropped while a command was running."""


class AuthFailed(TransportError):
    """The server refused every key we offered."""

    status = "auth_failed"


class HostKeyFailed(TransportError):
    """The host key is unknown (strict policy) or differs from the recorded one."""

    status = "host_key_failed"
