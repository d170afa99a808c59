"""What every transport offers the runner: run one command on one host, stream its output, obey timeouts.

Failures to reach a host are exceptions of :mod:`fleetdeck.core.transport.errors`; a command that ran
and exited (whatever its status) is a :class:`CommandResult`. Cancellation is asyncio cancellation: a
cancelled ``execute`` kills the remote process before it re-raises.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from fleetdeck.core.inventory import Host

Stream = Literal["stdout", "stderr"]
OutputCallback = Callable[[Stream, bytes], None]
StdinSource = Callable[[], AsyncIterator[bytes]]

KILL_GRACE_S = 3.0
"""How long a killed process gets to report its exit before the channel is closed regardless."""

REMOTE_GUARD_MARGIN_S = 5
"""Extra seconds the remote ``timeout -k`` guard allows beyond the local timeout (the local one acts first)."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended.

    Attributes:
        exit_status: The exit code, or None when it was killed by a signal or never reported one.
        signal: The signal name when the process died of one.
        timed_out: ``"timeout"`` (ran too long) or ``"no_output"`` (silent too long), else None.
        kill_confirmed: After a timeout or cancel: True when the process was seen to exit.
        duration_s: Wall time of the command.
    """

    exit_status: int | None
    signal: str | None = None
    timed_out: Literal["timeout", "no_output"] | None = None
    kill_confirmed: bool | None = None
    duration_s: float = 0.0


class Transport(Protocol):
    """Runs commands on hosts of one kind (SSH or this machine)."""

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
        """Run ``command`` on ``host``; output chunks go to ``on_output`` as they arrive."""

    async def stage_file(self, host: Host, local: Path) -> tuple[str, str]:
        """Copy ``local`` into a new private temp dir on ``host``; returns (file path, dir to remove)."""

    async def remove_dir(self, host: Host, remote_dir: str) -> None:
        """Remove a dir made by :meth:`stage_file` (best effort)."""

    async def close(self) -> None:
        """Close pooled connections."""


STAGE_DIR_COMMAND = 'umask 077 && mktemp -d "${TMPDIR:-/tmp}/fleetdeck.XXXXXXXX"'
"""Makes a private (0700) temp dir on the host for an uploaded script and prints its path."""

_SAFE_REMOTE_PATH = re.compile(r"^/[A-Za-z0-9._/-]+$")


def staged_name(local: Path) -> str:
    """The file name an uploaded script gets: fixed, so the remote path needs no quoting."""
    suffix = local.suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", local.suffix) else ""
    return f"script{suffix}"


def check_stage_dir(host_name: str, text: str) -> str:
    """Validate the temp dir path the host printed; refuse anything that would need quoting."""
    path = text.strip()
    if not _SAFE_REMOTE_PATH.match(path) or "/../" in path:
        raise ValueError(f"{host_name}: mktemp printed an unexpected path {path!r}; not uploading there")
    return path


def guard_command(command: str, timeout: float | None) -> str:
    """Wrap a command in a remote ``timeout -k`` guard so it dies even if the kill request is lost.

    The local timer fires first and asks the remote to stop; the guard is the backstop for servers that
    ignore signal requests or connections that drop. Hosts without ``timeout(1)`` run the command bare.
    """
    if timeout is None:
        return command
    import shlex

    limit = int(timeout + 0.999) + REMOTE_GUARD_MARGIN_S
    quoted = shlex.quote(command)
    return (
        f"if command -v timeout >/dev/null 2>&1; then exec timeout -k {REMOTE_GUARD_MARGIN_S} {limit} sh -c {quoted}; "
        f"else exec sh -c {quoted}; fi"
    )
