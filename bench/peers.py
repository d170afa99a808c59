"""The fan-out variants: fleetdeck itself, the asyncssh reference and the peer tools, as measurable commands.

:func:`write_peer_files` derives every tool's input from one running ``SshFleet``: a bench-local copy of
its ssh_config that pins ``KexAlgorithms curve25519-sha256`` (the kex asyncssh negotiates with this
sshd, so every client does the same crypto), host lists in each tool's format, an Ansible INI inventory
and ``ansible.cfg``. Every OpenSSH-based tool checks host keys strictly against the fleet's known_hosts.
:func:`variants` turns them into :class:`Variant` commands; a tool that is not installed becomes a
variant with a ``missing`` reason, which the bench prints and skips.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

BENCH_DIR = Path(__file__).resolve().parent
BENCH_VENV = BENCH_DIR / ".venv"
#: Bytecode cache of every Python the variants start (bench/results/ is gitignored).
PYCACHE = BENCH_DIR / "results" / "pycache"
SETUP_HINT = "run bench/setup.sh as root (apt: pssh clustershell pdsh time; bench/.venv: ansible-core)"
KEX = "curve25519-sha256"
FANOUT = 64
ANSIBLE_FORKS = 50
REFERENCE = "asyncssh-min"
ALL_VARIANTS = (
    REFERENCE,
    "fleetdeck-exec",
    "fleetdeck-warm",
    "xargs-ssh",
    "parallel-ssh",
    "pdsh",
    "clush",
    "ansible-raw",
)


class Fleet(Protocol):
    """What the bench uses of ``tests/fleet.py``'s ``SshFleet``."""

    workdir: Path
    hosts: list[tuple[str, str]]
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    ssh_config: Path
    config_dir: Path


@dataclass(frozen=True, slots=True)
class PeerFiles:
    """The generated inputs of every variant for one fleet."""

    n_hosts: int
    user: str
    client_key: Path
    known_hosts: Path
    config_dir: Path  # fleetdeck's --config
    state_dir: Path  # FLEETDECK_STATE
    ssh_config: Path  # the fleet's ssh_config plus the pinned kex
    names: Path  # one host alias per line (xargs, pdsh, clush)
    pssh_hosts: Path  # one alias per line (parallel-ssh resolves it through -F)
    ref_hosts: Path  # 'name address port' per line (ref_asyncssh.py)
    inventory: Path  # Ansible INI
    ansible_cfg: Path
    ansible_home: Path


@dataclass(frozen=True, slots=True)
class Variant:
    """One way of running the command on every host, as a process to measure."""

    name: str
    argv: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    missing: str | None = None  # why this variant cannot run here
    reports_own_timing: bool = False  # the child prints WARM_RESULT with the numbers to use


def bench_env(extra: Mapping[str, str] | None = None, *, bytecode_cache: bool = True) -> dict[str, str]:
    """The environment every variant runs in: no SSH agent, and (by default) cached bytecode.

    With ``PYTHONDONTWRITEBYTECODE`` set (as in some CI and sandbox shells) an editable install recompiles
    its own modules on every start, which an installed tool never does; so the variants get a writable
    ``PYTHONPYCACHEPREFIX`` under bench/results/ instead (the warm-up round fills it).
    """
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        PYCACHE.mkdir(parents=True, exist_ok=True)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(extra or {})
    return env


def write_peer_files(fleet: Fleet, out_dir: Path) -> PeerFiles:
    """Write every tool's inputs for ``fleet`` under ``out_dir`` (which must be readable by the tools)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [name for name, _ in fleet.hosts]

    ssh_config = out_dir / "ssh_config"
    base = fleet.ssh_config.read_text()
    if "kexalgorithms" not in base.lower():
        base = base.rstrip("\n") + f"\n\nHost *\n    KexAlgorithms {KEX}\n    ControlMaster no\n"
    ssh_config.write_text(base)

    names_file = out_dir / "names.txt"
    names_file.write_text("".join(f"{name}\n" for name in names))
    pssh_hosts = out_dir / "pssh_hosts.txt"
    pssh_hosts.write_text("".join(f"{name}\n" for name in names))
    ref_hosts = out_dir / "ref_hosts.txt"
    ref_hosts.write_text("".join(f"{name} {address} {fleet.port}\n" for name, address in fleet.hosts))

    inventory = out_dir / "inventory.ini"
    lines = ["[fleet]"]
    lines += [f"{name} ansible_host={address}" for name, address in fleet.hosts]
    lines += [
        "",
        "[fleet:vars]",
        f"ansible_port={fleet.port}",
        f"ansible_user={fleet.user}",
        f"ansible_ssh_private_key_file={fleet.client_key}",
    ]
    inventory.write_text("\n".join(lines) + "\n")

    ansible_home = out_dir / "ansible-home"
    ansible_home.mkdir(exist_ok=True)
    ssh_args = " ".join(
        [
            f"-o UserKnownHostsFile={fleet.known_hosts}",
            "-o GlobalKnownHostsFile=/dev/null",
            "-o StrictHostKeyChecking=yes",
            f"-o KexAlgorithms={KEX}",
            "-o ControlMaster=no",
            "-o IdentitiesOnly=yes",
            "-o BatchMode=yes",
        ]
    )
    ansible_cfg = out_dir / "ansible.cfg"
    ansible_cfg.write_text(
        "[defaults]\n"
        "host_key_checking = True\n"
        f"forks = {ANSIBLE_FORKS}\n"
        "gathering = explicit\n"
        "retry_files_enabled = False\n"
        "interpreter_python = auto_silent\n"
        f"local_tmp = {ansible_home / 'tmp'}\n"
        "\n"
        "[ssh_connection]\n"
        f"ssh_args = {ssh_args}\n"
        "pipelining = False\n"
    )
    state_dir = out_dir / "fleetdeck-state"
    state_dir.mkdir(exist_ok=True)
    return PeerFiles(
        n_hosts=len(names),
        user=fleet.user,
        client_key=fleet.client_key,
        known_hosts=fleet.known_hosts,
        config_dir=fleet.config_dir,
        state_dir=state_dir,
        ssh_config=ssh_config,
        names=names_file,
        pssh_hosts=pssh_hosts,
        ref_hosts=ref_hosts,
        inventory=inventory,
        ansible_cfg=ansible_cfg,
        ansible_home=ansible_home,
    )


def _which(name: str, *extra: Path) -> str | None:
    for candidate in extra:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def _missing(tool: str, package: str) -> str:
    return f"{tool} not found (package {package}): {SETUP_HINT}"


def variants(files: PeerFiles, command: str, selected: Sequence[str] = ALL_VARIANTS) -> list[Variant]:
    """The selected variants for one fleet, in the given order."""
    python = sys.executable  # fleetdeck's venv: has fleetdeck and asyncssh
    venv_bin = Path(sys.executable).parent  # not resolved: the venv's python is a symlink
    ssh_cfg = str(files.ssh_config)
    built: dict[str, Variant] = {}

    built[REFERENCE] = Variant(
        REFERENCE,
        (
            python, str(BENCH_DIR / "ref_asyncssh.py"),
            "-H", str(files.ref_hosts), "-u", files.user, "-k", str(files.client_key),
            "-K", str(files.known_hosts), "-l", str(FANOUT), command,
        ),
    )  # fmt: skip

    fleetdeck = _which("fleetdeck", venv_bin / "fleetdeck")
    fd_env = {"FLEETDECK_STATE": str(files.state_dir)}
    built["fleetdeck-exec"] = Variant(
        "fleetdeck-exec",
        (
            fleetdeck or "fleetdeck", "--config", str(files.config_dir),
            "exec", "-t", "all", "--max-hosts", str(FANOUT), "--", command,
        ),
        fd_env,
        missing=None if fleetdeck else "fleetdeck not installed in this venv: pip install -e . first",
    )  # fmt: skip
    built["fleetdeck-warm"] = Variant(
        "fleetdeck-warm",
        (
            python, str(BENCH_DIR / "fleetdeck_warm.py"), "--config", str(files.config_dir),
            "--state", str(files.state_dir), "--max-hosts", str(FANOUT), "-t", "all", "--", command,
        ),
        fd_env,
        reports_own_timing=True,
    )  # fmt: skip

    ssh = shutil.which("ssh")
    built["xargs-ssh"] = Variant(
        "xargs-ssh",
        ("xargs", "-a", str(files.names), "-P", str(FANOUT), "-I{}", ssh or "ssh", "-F", ssh_cfg, "{}", command),
        missing=None if ssh else _missing("ssh", "openssh-client"),
    )

    pssh = _which("parallel-ssh") or _which("pssh")
    built["parallel-ssh"] = Variant(
        "parallel-ssh",
        (
            pssh or "parallel-ssh", "-h", str(files.pssh_hosts), "-p", str(FANOUT), "-t", "120",
            "-x", f"-F {ssh_cfg}", "-i", command,
        ),
        missing=None if pssh else _missing("parallel-ssh", "pssh"),
    )  # fmt: skip

    pdsh = _which("pdsh")
    built["pdsh"] = Variant(
        "pdsh",
        (pdsh or "pdsh", "-R", "ssh", "-f", str(FANOUT), "-l", files.user, "-w", f"^{files.names}", command),
        {"PDSH_RCMD_TYPE": "ssh", "PDSH_SSH_ARGS": f"-F {ssh_cfg} -l%u %h"},
        missing=None if pdsh else _missing("pdsh", "pdsh"),
    )

    clush = _which("clush")
    built["clush"] = Variant(
        "clush",
        (clush or "clush", "-f", str(FANOUT), f"--hostfile={files.names}", "-o", f"-F {ssh_cfg}", command),
        missing=None if clush else _missing("clush", "clustershell"),
    )

    ansible = _which("ansible", BENCH_VENV / "bin" / "ansible")
    built["ansible-raw"] = Variant(
        "ansible-raw",
        (ansible or "ansible", "all", "-i", str(files.inventory), "-m", "raw", "-a", command, "-f", str(ANSIBLE_FORKS)),
        {"ANSIBLE_CONFIG": str(files.ansible_cfg), "ANSIBLE_HOME": str(files.ansible_home)},
        missing=None if ansible else _missing("ansible", "ansible-core in bench/.venv"),
    )

    unknown = [name for name in selected if name not in built]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(ALL_VARIANTS)}")
    return [built[name] for name in selected]
