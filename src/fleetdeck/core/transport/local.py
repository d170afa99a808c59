"""Local transport: commands for ``transport = "local"`` hosts run on this machine, no SSH involved.

Each command gets its own session (process group) so a timeout or cancel stops everything it started,
not just the shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

from fleetdeck.core.inventory import Host
from fleetdeck.core.transport.base import CommandResult, OutputCallback, StdinSource, staged_name
from fleetdeck.core.transport.errors import TransportError
from fleetdeck.core.transport.intake import UNHELD, Intake
from fleetdeck.core.transport.session import Exit, Session, drive


class LocalTransport:
    """Runs commands with ``/bin/sh -c`` on this machine.

    Args:
        intake: Paces the reading of commands' output (a console holds it while a key is in flight).
    """

    def __init__(self, intake: Intake = UNHELD) -> None:
        self.intake = intake

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
        """Run ``command`` locally; ``host`` only names where output belongs."""
        try:
            proc = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise TransportError(f"{host.name}: cannot start /bin/sh: {exc.strerror}") from None
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None

        async def wait() -> Exit:
            code = await proc.wait()
            if code < 0:
                return Exit(None, signal.Signals(-code).name.removeprefix("SIG"))
            return Exit(code)

        def send(sig: signal.Signals) -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

        session = Session(
            stdout=proc.stdout,
            stderr=proc.stderr,
            stdin=proc.stdin,
            wait=wait,
            terminate=lambda: send(signal.SIGTERM),
            kill=lambda: send(signal.SIGKILL),
        )
        try:
            return await drive(
                session,
                on_output,
                stdin=stdin,
                timeout=timeout,
                no_output_timeout=no_output_timeout,
                intake=self.intake,
            )
        finally:
            if proc.returncode is None:
                send(signal.SIGKILL)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.wait(), 1.0)

    async def stage_file(self, host: Host, local: Path) -> tuple[str, str]:
        """Copy ``local`` into a fresh private temp dir on this machine."""
        remote_dir = tempfile.mkdtemp(prefix="fleetdeck.")
        remote = str(Path(remote_dir) / staged_name(local))
        try:
            shutil.copyfile(local, remote)
            Path(remote).chmod(0o700)
        except OSError as exc:
            shutil.rmtree(remote_dir, ignore_errors=True)
            raise TransportError(f"{host.name}: cannot stage {local.name}: {exc.strerror}") from None
        return remote, remote_dir

    async def remove_dir(self, host: Host, remote_dir: str) -> None:
        """Remove a staged script's temp dir."""
        shutil.rmtree(remote_dir, ignore_errors=True)

    async def close(self) -> None:
        """Nothing is pooled locally."""
