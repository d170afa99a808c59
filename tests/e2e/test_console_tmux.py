"""The real console in a real terminal: start it in tmux, watch it draw and refresh, quit with `q`.

tmux runs on a private socket (`-L`) with no config file (`-f /dev/null`), so neither the developer's tmux
server nor their `.tmux.conf` is touched, and the server is killed however the test ends.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SESSION = "fleetdeck"
APP = (
    "from fleetdeck.ui.app import FleetdeckApp; "
    "from fleetdeck.core.health.local import LocalHealthSource; "
    "FleetdeckApp(LocalHealthSource(['localhost'])).run()"
)
NUMBER = re.compile(r"\d+%")


class Tmux:
    """A tmux server of our own, driven through its command line."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.socket = f"fleetdeck-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.socket_path: Path | None = None

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [self.binary, "-L", self.socket, "-f", "/dev/null", *args]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=10)

    def start(self, command: str, width: int, height: int) -> None:
        # remain-on-exit keeps the pane after the app exits, so the test can read its exit status
        # (and a traceback if it crashed) instead of racing the session's disappearance.
        self.run(
            *("start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";"),
            *("new-session", "-d", "-s", SESSION, "-x", str(width), "-y", str(height), command),
        )
        self.socket_path = Path(self.run("display-message", "-p", "#{socket_path}").stdout.strip())

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", SESSION).stdout

    def pane(self, fmt: str) -> str:
        return self.run("display-message", "-p", "-t", SESSION, fmt).stdout.strip()

    def kill_server(self) -> None:
        """Stop the server and the console with it; tmux leaves its socket file behind, so remove it."""
        self.run("kill-server", check=False)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    binary = shutil.which("tmux")
    if binary is None:
        pytest.skip("tmux is not installed: this test drives the real console inside tmux")
    server = Tmux(binary)
    try:
        yield server
    finally:
        server.kill_server()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, screen: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f}s; the screen was:\n{screen()}")
        time.sleep(0.2)


def test_console_draws_refreshes_and_quits(tmux: Tmux) -> None:
    tmux.start(f"exec {shlex.quote(sys.executable)} -c {shlex.quote(APP)}", 120, 35)

    wait_for(
        lambda: "localhost" in (s := tmux.screen()) and NUMBER.search(s) is not None,
        20,
        "no `localhost` row with numbers",
        tmux.screen,
    )
    first = tmux.screen()
    assert "fleetdeck" in first and "Quit" in first

    # Uptime and the sample age move every poll, so a refresh shows up as a changed screen.
    wait_for(lambda: tmux.screen() != first, 8, "the screen did not refresh", tmux.screen)
    assert NUMBER.search(tmux.screen())

    tmux.run("send-keys", "-t", SESSION, "q")
    # tmux marks the pane dead when the terminal closes and fills in the exit status once it has reaped
    # the process, a moment later; wait for both.
    wait_for(lambda: exit_of(tmux) is not None, 10, "the console did not exit on q", tmux.screen)
    assert exit_of(tmux) == ("0", ""), tmux.screen()


def exit_of(tmux: Tmux) -> tuple[str, str] | None:
    """The pane's (exit status, signal) once its process has been reaped, else `None`."""
    dead, status, signal = tmux.pane("#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}").split(":")
    return (status, signal) if dead == "1" and (status or signal) else None
