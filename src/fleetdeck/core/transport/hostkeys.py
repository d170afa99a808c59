"""Host key checking: strict by default, ``accept-new`` only where configured, never silent.

Keys are checked against the user's known_hosts (read, never written) and fleetdeck's own known_hosts
under the state dir, where ``accept-new`` records keys of hosts seen for the first time. A key that
differs from a recorded one always fails, naming the host and both fingerprints.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from fleetdeck.core.inventory import Host


@dataclass(frozen=True, slots=True)
class KeyProblem:
    """Why a presented host key was refused, for the host's error message."""

    message: str


def _known_hosts_line(host: Host, key: asyncssh.SSHKey) -> str:
    name = host.address if host.port == 22 else f"[{host.address}]:{host.port}"
    return f"{name} {key.export_public_key('openssh').decode().strip()}\n"


class KnownHosts:
    """The known_hosts files in use, parsed once and re-read when a file changes."""

    def __init__(self, own_file: Path) -> None:
        self.own_file = own_file
        self._cache: dict[tuple[str, ...], tuple[tuple[float, ...], asyncssh.SSHKnownHosts]] = {}
        self._lock = threading.Lock()

    def files_for(self, host: Host) -> list[str]:
        """The user's known_hosts for this host (if it exists) plus fleetdeck's own (if it exists)."""
        files = [str(Path(host.known_hosts).expanduser())]
        own = str(self.own_file)
        if own not in files:
            files.append(own)
        return [f for f in files if Path(f).is_file()]

    def load(self, host: Host) -> asyncssh.SSHKnownHosts:
        """Parsed keys of every file for ``host``; cached by file modification times."""
        files = tuple(self.files_for(host))
        stamps = tuple(Path(f).stat().st_mtime_ns for f in files)
        with self._lock:
            cached = self._cache.get(files)
            if cached is not None and cached[0] == stamps:
                return cached[1]
            parsed = asyncssh.read_known_hosts(list(files)) if files else asyncssh.SSHKnownHosts()
            self._cache[files] = (stamps, parsed)
            return parsed

    def record(self, host: Host, key: asyncssh.SSHKey) -> None:
        """Append a newly accepted key to fleetdeck's own known_hosts (never the user's)."""
        self.own_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.own_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with self._lock, os.fdopen(fd, "a", encoding="ascii") as fh:
            fh.write(_known_hosts_line(host, key))


class HostKeyCheck:
    """Decides about one connection's host key; asyncssh calls :meth:`validate` for keys not already trusted."""

    def __init__(self, host: Host, known: KnownHosts) -> None:
        self.host = host
        self.known = known
        self.problem: KeyProblem | None = None
        self.accepted_new = False

    def known_hosts_arg(self) -> asyncssh.SSHKnownHosts:
        """What to pass as asyncssh's ``known_hosts``: the parsed keys of every file in use."""
        return self.known.load(self.host)

    def validate(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Accept a key nobody vouched for only under ``accept-new`` and only for a host seen for the first time."""
        presented = key.get_fingerprint("sha256")
        parsed = self.known.load(self.host)
        known_keys = parsed.match(host, addr, port if port != 22 else None)[0]
        files = " and ".join(self.known.files_for(self.host)) or "no known_hosts file"
        if known_keys:
            recorded = ", ".join(sorted({k.get_fingerprint("sha256") for k in known_keys}))
            self.problem = KeyProblem(
                f"host key for {self.host.name} ({host}:{port}) has CHANGED: server sent {presented}, "
                f"recorded {recorded} in {files}; if the change is expected, remove the old entry "
                f"(ssh-keygen -R) and connect again"
            )
            return False
        if self.host.host_key_policy == "accept-new":
            self.known.record(self.host, key)
            self.accepted_new = True
            return True
        self.problem = KeyProblem(
            f"host key for {self.host.name} ({host}:{port}) is not known: server sent {presented}, "
            f"not found in {files}; verify it and add it to known_hosts, or set host_key_policy = "
            f'"accept-new" for this host'
        )
        return False
