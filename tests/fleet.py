"""A real OpenSSH test fleet: N loopback "hosts" served by local sshd processes.

Every host is its own loopback address (127.0.1.1, 127.0.1.2, ...) on one shared port, so fleetdeck
talks to a real sshd exactly as it would to remote machines, with strict host key checking against a
generated known_hosts.  Used by the fixtures in ``conftest.py``; bench scripts can use it too by putting
``tests/`` on ``sys.path`` (``PYTHONPATH=tests``) and doing ``from fleet import SshFleet``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import psutil
import tomli_w

SSHD_MISSING = "sshd not found: install openssh-server (apt-get install openssh-server) to run the SSH tests"
SSHD_LOCATIONS = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")
#: Login account used when the tests run as root (root's shell rc files are far too slow to log in as).
TEST_USER = "fleetdeck-test"
#: sshd's MAX_LISTEN_SOCKS: one process cannot listen on more addresses than this.
ADDRESSES_PER_SSHD = 16
#: Hosts per /24 before moving on to the next third octet (keeps .0 and .251-.255 unused).
HOSTS_PER_OCTET = 250
PRIVSEP_DIR = Path("/run/sshd")
PR_SET_CHILD_SUBREAPER = 36


class FleetFactory(Protocol):
    """The ``make_fleet`` fixture: start a fleet of ``n_hosts`` that is stopped after the test."""

    def __call__(self, n_hosts: int, base: str = "127.0.1.") -> SshFleet: ...


class PortInUseError(RuntimeError):
    """sshd could not bind the chosen port on some address (someone took it after we probed)."""


def find_sshd() -> Path | None:
    """Absolute path of sshd, or None; sshd refuses to re-exec itself from a relative path."""
    found = shutil.which("sshd")
    for candidate in ([found] if found else []) + list(SSHD_LOCATIONS):
        path = Path(candidate)
        if path.is_file() and os.access(path, os.X_OK):
            return path.absolute()
    return None


def host_addresses(n_hosts: int, base: str = "127.0.1.") -> list[str]:
    """Loopback addresses for the hosts: base+1 ... base+250, then the next third octet."""
    parts = base.removesuffix(".").split(".")
    if len(parts) != 3 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ValueError(f"base must look like '127.0.1.', got {base!r}")
    first, second, third = (int(p) for p in parts)
    addresses = []
    for index in range(n_hosts):
        octet = third + index // HOSTS_PER_OCTET
        if octet > 255:
            raise ValueError(f"{n_hosts} hosts do not fit after {base}")
        addresses.append(f"{first}.{second}.{octet}.{index % HOSTS_PER_OCTET + 1}")
    return addresses


def default_login_user() -> str:
    """The account the fleet logs in as: the current user, or TEST_USER when running as root."""
    if os.geteuid() == 0:
        return TEST_USER
    return pwd.getpwuid(os.geteuid()).pw_name


class SshFleet:
    """N hosts on loopback addresses, served by ceil(N/16) sshd processes sharing keys and config.

    ``start()`` (or ``with SshFleet(...) as fleet``) generates everything in ``workdir`` and waits
    until every address answers; ``stop()`` is idempotent and also runs at interpreter exit.
    ``stop_sshd()``/``start_sshd()`` take the same fleet down and bring it back on the same
    addresses, port and keys, for tests that need hosts to disappear and return.
    """

    def __init__(
        self,
        workdir: Path,
        n_hosts: int,
        base: str = "127.0.1.",
        *,
        sshd_path: Path | None = None,
        ready_timeout: float = 10.0,
        stop_timeout: float = 5.0,
    ) -> None:
        if n_hosts < 1:
            raise ValueError("a fleet needs at least one host")
        self.workdir = Path(workdir).absolute()
        width = max(2, len(str(n_hosts)))
        self.hosts: list[tuple[str, str]] = [
            (f"h{index:0{width}d}", address) for index, address in enumerate(host_addresses(n_hosts, base), start=1)
        ]
        self.port = 0  # chosen by start()
        self.user = default_login_user()
        self.sshd_path = sshd_path
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout

        self.host_key = self.workdir / "ssh_host_ed25519_key"
        self.client_key = self.workdir / "client_ed25519"
        self.authorized_keys = self.workdir / "authorized_keys"
        self.sshd_config = self.workdir / "sshd_config"
        self.known_hosts = self.workdir / "known_hosts"
        self.ssh_config = self.workdir / "ssh_config"
        self.config_dir = self.workdir / "config"
        self.hosts_toml = self.config_dir / "hosts.toml"

        self._shards: list[subprocess.Popen[bytes]] = []
        self._prepared = False
        self._sshd_version = (0, 0)
        self._log_offsets: list[int] = []
        self._side_dir: Path | None = None

    def __repr__(self) -> str:
        return f"<SshFleet {len(self.hosts)} hosts port={self.port} running={self.running}>"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def addresses(self) -> list[str]:
        return [address for _, address in self.hosts]

    @property
    def shard_addresses(self) -> list[list[str]]:
        """Addresses per sshd process, in host order."""
        addresses = self.addresses
        return [addresses[i : i + ADDRESSES_PER_SSHD] for i in range(0, len(addresses), ADDRESSES_PER_SSHD)]

    @property
    def n_shards(self) -> int:
        return len(self.shard_addresses)

    @property
    def running(self) -> bool:
        return bool(self._shards)

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._shards]

    @property
    def log_files(self) -> list[Path]:
        return [self.workdir / f"sshd-{index}.log" for index in range(self.n_shards)]

    def log_text(self, limit: int = 4000, *, since_start: bool = False) -> str:
        """The tail of every shard's log (optionally only what the last start_sshd() added)."""
        chunks = []
        for index, log in enumerate(self.log_files):
            data = log.read_bytes() if log.exists() else b""
            if since_start and index < len(self._log_offsets):
                data = data[self._log_offsets[index] :]
            text = data.decode(errors="replace")[-limit:]
            chunks.append(f"--- {log} ---\n{text or '(empty)'}")
        return "\n".join(chunks)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Generate keys and configs (once), pick a free port and start every shard."""
        if self.running:
            return self
        atexit.register(self.stop)
        try:
            self._prepare()
            for _attempt in range(5):
                if not self.port:
                    self.port = _free_port(self.addresses)
                self._write_port_files()
                try:
                    self.start_sshd()
                    return self
                except PortInUseError:
                    self.port = 0
            raise RuntimeError(f"sshd kept failing to bind a free port\n{self.log_text()}")
        except BaseException:
            self.stop()
            raise

    def start_sshd(self) -> None:
        """(Re)start the sshd shards on the fleet's addresses and port, then wait until all answer."""
        if self.running:
            return
        if not self._prepared or not self.port:
            raise RuntimeError("start() the fleet before start_sshd()")
        self._write_authorized_keys()
        self._write_sshd_config()
        self._log_offsets = [log.stat().st_size if log.exists() else 0 for log in self.log_files]
        try:
            for index, addresses in enumerate(self.shard_addresses):
                self._shards.append(self._launch(index, addresses))
            self._wait_ready()
        except BaseException:
            self.stop_sshd()
            raise

    def _launch(self, index: int, addresses: list[str]) -> subprocess.Popen[bytes]:
        """One shard: absolute path, foreground (-D), our config, host key and log only."""
        assert self.sshd_path is not None
        argv = [
            str(self.sshd_path),
            "-D",
            "-f", str(self.sshd_config),
            "-h", str(self.host_key),
            "-E", str(self.log_files[index]),
            "-o", f"PidFile={self.workdir / f'sshd-{index}.pid'}",
        ]  # fmt: skip
        for address in addresses:
            argv += ["-o", f"ListenAddress={address}"]
        # stderr catches anything sshd prints before it switches to the -E log.
        with self.log_files[index].open("ab") as log:
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_become_subreaper()
            )

    def stop_sshd(self) -> None:
        """Stop every shard and drop its open sessions, like the hosts going down."""
        shards, self._shards = self._shards, []
        for proc in shards:
            _terminate_tree(proc, self.stop_timeout)

    def crash_sshd(self) -> None:
        """SIGKILL every sshd process of the fleet, listeners and per-connection ones alike.

        Unlike :meth:`stop_sshd`, the commands the sessions ran are left alone: connections just drop
        mid-command, as when a host dies or its sshd is killed.
        """
        shards, self._shards = self._shards, []
        for proc in shards:
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(proc.pid)
                sshds = [root, *(c for c in root.children(recursive=True) if c.name() == "sshd")]
                for victim in sshds:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        victim.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(self.stop_timeout)

    def stop(self) -> None:
        """Stop sshd and remove anything kept outside the workdir; safe to call repeatedly."""
        self.stop_sshd()
        if self._side_dir is not None:
            shutil.rmtree(self._side_dir, ignore_errors=True)
            self._side_dir = None
        atexit.unregister(self.stop)

    # -- setup ---------------------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._prepared:
            return
        if self.sshd_path is None:
            self.sshd_path = find_sshd()
        if self.sshd_path is None:
            raise RuntimeError(SSHD_MISSING)
        _make_dirs(self.workdir)
        _make_dirs(self.config_dir)
        if os.geteuid() == 0:
            _ensure_test_user()
            # Privilege separation needs this directory when sshd runs as root.
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        self._sshd_version = _sshd_version(self.sshd_path)
        for key, comment in (
            (self.host_key, "fleetdeck-test-host"),
            (self.client_key, "fleetdeck-test-client"),
        ):
            if not key.exists():
                _run([_tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
        (self.config_dir / "tasks.toml").touch()
        self._prepared = True

    def _write_authorized_keys(self) -> None:
        """Put authorized_keys where the login user can read it: sshd opens it with the user's uid."""
        directory = self.workdir
        if self.user != pwd.getpwuid(os.geteuid()).pw_name and not _traversable_by_others(self.workdir):
            # e.g. pytest's tmp dirs live under a 0700 /tmp/pytest-of-root.
            if self._side_dir is None:
                self._side_dir = Path(tempfile.mkdtemp(prefix="fleetdeck-fleet-keys-"))
                self._side_dir.chmod(0o755)
            directory = self._side_dir
        self.authorized_keys = directory / "authorized_keys"
        self.authorized_keys.write_text(_public_key(self.client_key) + "\n")
        self.authorized_keys.chmod(0o644)

    def _write_port_files(self) -> None:
        """Everything that names the port: known_hosts, ssh_config and hosts.toml."""
        key = _public_key(self.host_key)
        self.known_hosts.write_text(
            "".join(f"[{name}]:{self.port},[{address}]:{self.port} {key}\n" for name, address in self.hosts)
        )
        blocks = []
        for name, address in self.hosts:
            blocks.append(
                f"Host {name}\n"
                f"    HostName {address}\n"
                f"    Port {self.port}\n"
                f"    User {self.user}\n"
                f"    IdentityFile {self.client_key}\n"
                f"    IdentitiesOnly yes\n"
                f"    UserKnownHostsFile {self.known_hosts}\n"
                f"    GlobalKnownHostsFile /dev/null\n"
                f"    StrictHostKeyChecking yes\n"
                f"    BatchMode yes\n"
                f"    ConnectTimeout 5\n"
                f"    LogLevel ERROR\n"
            )
        self.ssh_config.write_text("\n".join(blocks))
        document = {
            "defaults": {
                "user": self.user,
                "port": self.port,
                "identity_file": str(self.client_key),
                "known_hosts": str(self.known_hosts),
                "host_key_policy": "strict",
                "connect_timeout": 5,
            },
            "hosts": {name: {"address": address, "groups": ["fleet"]} for name, address in self.hosts},
        }
        self.hosts_toml.write_text(tomli_w.dumps(document))

    def _write_sshd_config(self) -> None:
        lines = [
            "# sshd_config for the fleetdeck SSH test fleet; every shard uses this body and adds its",
            "# own ListenAddress and PidFile with -o.",
            f"Port {self.port}",
            "AddressFamily inet",
            f"PidFile {self.workdir / 'sshd.pid'}",
            "UsePAM no",
            "PubkeyAuthentication yes",
            "AuthenticationMethods publickey",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitEmptyPasswords no",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "StrictModes no",
            "MaxStartups 10000",
            "PerSourceMaxStartups none",
            "MaxSessions 100",
            "MaxAuthTries 10",
            "LoginGraceTime 30",
            "UseDNS no",
            "Subsystem sftp internal-sftp",
            "LogLevel ERROR",
            f"AllowUsers {self.user}",
            "PermitUserRC no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
        ]
        if self.user != "root":
            lines.append("PermitRootLogin no")
        if self._sshd_version >= (9, 8):
            # Probes and rejected host keys would otherwise get 127.0.0.1 penalised and refused.
            lines.append("PerSourcePenalties no")
        self.sshd_config.write_text("\n".join(lines) + "\n")

    def _wait_ready(self) -> None:
        """Wait until every address serves an SSH banner; fail with the sshd logs if not."""
        deadline = time.monotonic() + self.ready_timeout
        pending = self.addresses
        while True:
            for proc in self._shards:
                if proc.poll() is not None:
                    self._raise_start_error(f"sshd (pid {proc.pid}) exited with status {proc.returncode}")
            pending = [address for address in pending if not _serves_ssh(address, self.port)]
            if not pending:
                break
            if time.monotonic() > deadline:
                self._raise_start_error(
                    f"sshd not answering on {len(pending)} address(es) after {self.ready_timeout:.0f}s: "
                    f"{', '.join(pending[:5])}"
                )
            time.sleep(0.02)
        # A failed bind is logged before sshd starts accepting, so it is visible by now.
        logs = self.log_text(limit=10**6, since_start=True)
        if "Bind to port" in logs:
            raise PortInUseError(f"sshd could not bind port {self.port}\n{logs}")

    def _raise_start_error(self, message: str) -> None:
        logs = self.log_text(since_start=True)
        if "Address already in use" in logs:
            raise PortInUseError(f"{message}\n{logs}")
        raise RuntimeError(f"{message}\n{logs}")


# -- helpers -------------------------------------------------------------------------------------


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def _tool(name: str) -> str:
    """A system tool by name, also looking in sbin (not always on PATH)."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(f"{name} not found")


def _public_key(private_key: Path) -> str:
    """``type base64`` of a key pair's public half (comment dropped)."""
    key_type, blob = Path(f"{private_key}.pub").read_text().split()[:2]
    return f"{key_type} {blob}"


def _make_dirs(path: Path) -> None:
    """mkdir -p, making the directories we create world-traversable for the login user."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for directory in missing:
        directory.chmod(0o755)


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))


def _sshd_version(sshd: Path) -> tuple[int, int]:
    result = subprocess.run([str(sshd), "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stdout + result.stderr)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def _ensure_test_user() -> None:
    """Create TEST_USER (shell /bin/sh, no rc files) if missing, and make sure sshd accepts it."""
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        with tempfile.TemporaryDirectory() as empty_skel:
            result = subprocess.run(
                [_tool("useradd"), "--create-home", "--skel", empty_skel, "--shell", "/bin/sh", TEST_USER],
                capture_output=True,
                text=True,
                check=False,
            )
        if result.returncode not in (0, 9):  # 9: another session created it meanwhile
            raise RuntimeError(f"useradd {TEST_USER} failed: {result.stderr.strip()}") from None
        entry = pwd.getpwnam(TEST_USER)
    if entry.pw_shell != "/bin/sh":
        _run([_tool("usermod"), "--shell", "/bin/sh", TEST_USER])
    # useradd leaves the password "!" (locked); without PAM sshd refuses locked accounts even for
    # public keys, so switch to "*": no password can match, but the account is not locked.
    if _shadow_password(TEST_USER).startswith("!"):
        _run([_tool("usermod"), "--password", "*", TEST_USER])


def _shadow_password(user: str) -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/shadow").read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 1 and fields[0] == user:
                return fields[1]
    return ""


def _free_port(addresses: list[str]) -> int:
    """A port that every address can bind right now (sshd binds with SO_REUSEADDR, so do we)."""
    for _attempt in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port: int = probe.getsockname()[1]
        if _bindable(addresses, port):
            return port
    raise RuntimeError("no port is free on every fleet address")


def _bindable(addresses: list[str], port: int) -> bool:
    sockets: list[socket.socket] = []
    try:
        for address in addresses:
            sock = socket.socket()
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        for sock in sockets:
            sock.close()


def _become_subreaper() -> Callable[[], None] | None:
    """A preexec hook that makes sshd adopt the orphans of its own sessions.

    sshd's privileged monitor can exit before reaping its unprivileged child, which is then
    reparented to PID 1; where PID 1 reaps late or never (some containers and VMs) that leaves zombie
    sshd processes behind.  The subreaper flag survives exec, and the sshd listener reaps any child.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, only called after

    def hook() -> None:
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    return hook


def _serves_ssh(address: str, port: int) -> bool:
    """Whether an SSH server answers there, probing politely so sshd's error log stays clean."""
    try:
        with socket.create_connection((address, port), timeout=0.5) as sock:
            received = b""
            while b"\n" not in received and len(received) < 256:
                chunk = sock.recv(256)
                if not chunk:
                    break
                received += chunk
            if not received.startswith(b"SSH-"):
                return False
            # Hanging up before identifying ourselves, or with unread data, makes sshd log an error.
            sock.sendall(b"SSH-2.0-fleetdeck-probe\r\n")
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass
            return True
    except OSError:
        return False


def _terminate_tree(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Stop an sshd listener and every session process it forked.

    Sessions call setsid(), so a process-group kill would miss them.  Leaves go first so each parent
    is still alive to reap its children instead of leaving zombies for a slow PID 1.
    """
    if proc.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(proc.pid)
            for _round in range(10):
                descendants = root.children(recursive=True)
                if not descendants:
                    break
                parents = set()
                for child in descendants:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        parents.add(child.ppid())
                _signal_and_wait([p for p in descendants if p.pid not in parents], timeout)
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _signal_and_wait(procs: list[psutil.Process], timeout: float) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    """`make fleet`: start a loopback fleet with a ready config dir and keep it up until Ctrl+C.

    The config dir holds the fleet's hosts.toml plus this machine and the bundled tasks, alerts and
    schedules, so `fleetdeck --config DIR health --watch` (or the console) shows this machine and the fleet.
    """
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="a fleet of loopback OpenSSH hosts to try fleetdeck on")
    parser.add_argument("--hosts", "-n", type=int, default=8, help="how many hosts (default 8)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "fleetdeck-fleet")
    args = parser.parse_args(argv)
    if find_sshd() is None:
        print(SSHD_MISSING, file=sys.stderr)
        return 69
    if args.dir.exists():
        shutil.rmtree(args.dir)
    fleet = SshFleet(args.dir, args.hosts, ready_timeout=max(10.0, args.hosts / 20))
    fleet.start()
    bundled = Path(__file__).resolve().parent.parent / "configs"
    for name in ("tasks.toml", "alerts.toml", "schedules.toml", "remediation.toml", "scripts"):
        source = bundled / name
        if source.is_dir():
            shutil.copytree(source, fleet.config_dir / name)
        elif source.is_file():
            shutil.copy(source, fleet.config_dir / name)
    with fleet.hosts_toml.open("a", encoding="utf-8") as hosts:
        hosts.write('\n[hosts.localhost]\ntransport = "local"\n')
    print(f"{args.hosts} hosts up on {fleet.addresses[0]}..{fleet.addresses[-1]} port {fleet.port}")
    print("in another terminal:")
    print(f"  .venv/bin/fleetdeck --config {fleet.config_dir} health --watch")
    print(f"  .venv/bin/fleetdeck --config {fleet.config_dir}            # the console")
    print(f"  .venv/bin/fleetdeck --config {fleet.config_dir} exec -t @fleet -- uptime")
    print("Ctrl+C stops the fleet.", flush=True)

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        print("stopping the fleet")
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
