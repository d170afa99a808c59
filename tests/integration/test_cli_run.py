"""``fleetdeck run`` / ``exec`` / ``history`` as a user runs them, against the real SSH test fleet."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fleet import SshFleet

pytestmark = pytest.mark.ssh

TASKS = """
[tasks.not-on-two]
description = "fails on the second host only"
command = "echo checking {address}; [ {address} != 127.0.1.2 ]"

[tasks.leak]
command = "echo token={token}; echo also $FLEETDECK_SECRET_TOKEN >&2; exit 3"
params.token = { type = "secret" }

[tasks.backup]
params.source = { type = "str" }
params.dest = { type = "str" }
[[tasks.backup.steps]]
script = "scripts/backup-dir.sh"
args = ["{source}", "{dest}", "2"]

[tasks.uploaded]
params.dest = { type = "str" }
[[tasks.uploaded.steps]]
script = "scripts/where.sh"
upload = true
args = ["{dest}"]

[tasks.root]
command = "true"
sudo = true

[tasks.danger]
command = "true"
dangerous = true
"""


@pytest.fixture
def env(ssh_fleet: SshFleet, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config"
    shutil.copytree(ssh_fleet.config_dir, config)
    (config / "tasks.toml").write_text(TASKS)
    (config / "scripts").mkdir()
    shutil.copy(Path(__file__).parents[2] / "configs" / "scripts" / "backup-dir.sh", config / "scripts")
    (config / "scripts" / "where.sh").write_text('#!/bin/sh\necho "$0" > "$1"; echo "stdin: $(cat | wc -c)"\n')
    return {**os.environ, "FLEETDECK_STATE": str(tmp_path / "state"), "FLEETDECK_CONFIG": str(config)}


def fd(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetdeck", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_exec_prints_host_prefixed_lines(env: dict[str, str], ssh_fleet: SshFleet) -> None:
    out = fd(env, "exec", "-t", "all", "--", "echo hi; echo warn >&2")
    assert out.returncode == 0, out.stderr
    names = [n for n, _ in ssh_fleet.hosts]
    assert sorted(out.stdout.splitlines()) == sorted([f"{n} | hi" for n in names] + [f"{n} ! warn" for n in names])
    assert out.stderr.strip().startswith(f"ok {len(names)} · ")


def test_exec_json_events(env: dict[str, str], ssh_fleet: SshFleet) -> None:
    out = fd(env, "exec", "-t", "h01,h02", "--json", "--", "echo x; exit 4")
    assert out.returncode == 2
    events = [json.loads(line) for line in out.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    finished = [e for e in events if e["event"] == "host_finished"]
    assert {e["host"] for e in finished} == {"h01", "h02"}
    assert all(e["status"] == "failed" and e["exit_status"] == 4 and e["duration_s"] >= 0 for e in finished)
    assert all(set(e) >= {"host", "status", "exit_status", "duration_s", "error"} for e in finished)
    assert events[-1]["counts"] == {"failed": 2} and events[-1]["exit_code"] == 2


def test_gather_groups_identical_output(env: dict[str, str], ssh_fleet: SshFleet) -> None:
    out = fd(env, "run", "not-on-two", "-t", "all", "--gather")
    assert out.returncode == 2
    n = len(ssh_fleet.hosts)
    assert "h02 (rc=1, 1 host)" in out.stdout
    assert "checking 127.0.1.2" in out.stdout
    assert "rc=0, 1 host" in out.stdout  # each ok host printed its own address, so each is its own group
    assert out.stderr.strip().splitlines()[-1] == "rerun the failed hosts with -t @last.failed"
    assert f"ok {n - 1} · failed 1" in out.stderr


def test_last_failed_rerun_and_history(env: dict[str, str]) -> None:
    first = fd(env, "run", "not-on-two", "-t", "all")
    assert first.returncode == 2
    assert fd(env, "hosts", "@last.failed").stdout.split()[6:7] == ["h02"]
    again = fd(env, "run", "not-on-two", "-t", "@last.failed", "--json")
    assert [json.loads(x)["hosts"] for x in again.stdout.splitlines()[:1]] == [["h02"]]
    runs = json.loads(fd(env, "history", "--json").stdout)
    assert len(runs) == 2 and all({"id", "started", "task", "status"} <= set(r) for r in runs)
    assert runs[0]["task"] == "not-on-two" and runs[0]["status"] == "failed"
    one = fd(env, "history", runs[1]["id"])
    assert one.returncode == 0 and "h02" in one.stdout and "failed" in one.stdout


def test_history_host_output_is_byte_for_byte(env: dict[str, str]) -> None:
    script = r"printf 'a\r\nb\377\376\n'; printf 'err\n' >&2; printf 'tail-no-newline'"
    assert fd(env, "exec", "-t", "h03", "--", script).returncode == 0
    replay = subprocess.run(
        [sys.executable, "-m", "fleetdeck", "history", "last", "--host", "h03"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert replay.stdout == b"a\r\nb\xff\xfe\ntail-no-newline"
    assert replay.stderr == b"err\n"
    unknown = fd(env, "history", "last", "--host", "nope")
    assert unknown.returncode == 64 and "nope" in unknown.stderr


def test_secret_never_reaches_output_files_or_records(env: dict[str, str]) -> None:
    secret = "s3cr3t-VALUE-42"
    run_env = {**env, "FLEETDECK_SECRET_TOKEN": secret}
    out = fd(run_env, "run", "leak", "-t", "h01", "--json")
    assert out.returncode == 2
    assert secret not in out.stdout and secret not in out.stderr
    assert "token=***" in out.stdout
    state = Path(env["FLEETDECK_STATE"])
    for path in state.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"secret found in {path}"
    history = fd(env, "history", "last", "--json").stdout
    assert secret not in history and '"token": "***"' in history


def test_script_step_ships_the_local_file(env: dict[str, str]) -> None:
    # The login user of the fleet must reach these directories; pytest's own tmp dirs are private to root.
    shared = Path(tempfile.mkdtemp(prefix="fd-script-"))
    try:
        source, dest = shared / "src", shared / "dst"
        source.mkdir()
        (source / "file.txt").write_text("payload")
        dest.mkdir()
        for p in (shared, source, dest):
            p.chmod(0o777)
        out = fd(env, "run", "backup", "-t", "h01", "-p", f"source={source}", "-p", f"dest={dest}")
        assert out.returncode == 0, out.stdout + out.stderr
        archives = list(dest.glob("*.tar.gz"))
        assert len(archives) == 1 and "wrote " in out.stdout
        listing = subprocess.run(["tar", "-tzf", str(archives[0])], capture_output=True, text=True, check=True)
        assert "./file.txt" in listing.stdout.split()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_uploaded_script_runs_from_a_private_temp_dir_that_is_removed(env: dict[str, str]) -> None:
    shared = Path(tempfile.mkdtemp(prefix="fd-upload-"))
    shared.chmod(0o777)
    try:
        marker = shared / "where"
        out = fd(env, "run", "uploaded", "-t", "h02", "-p", f"dest={marker}")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "h02 | stdin: 0" in out.stdout
        remote_path = Path(marker.read_text().strip())
        assert remote_path.name == "script.sh" and remote_path.parent.name.startswith("fleetdeck.")
        assert not remote_path.parent.exists(), "the uploaded script's temp dir was left behind"
        dry = fd(env, "run", "uploaded", "-t", "h02", "-p", f"dest={marker}", "--dry-run")
        assert f"sh <tmp>/where.sh {marker}   (uploaded from" in dry.stdout
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed (apt-get install sudo)")
def test_sudo_without_password_rights_fails_clearly(env: dict[str, str]) -> None:
    out = fd(env, "run", "root", "-t", "h01")
    assert out.returncode == 2
    assert "sudo wants a password on h01" in out.stderr


def test_dangerous_task_refuses_without_yes_off_a_terminal(env: dict[str, str]) -> None:
    out = fd(env, "run", "danger", "-t", "h01")
    assert out.returncode == 64
    assert "task danger is marked dangerous: confirm on a terminal or pass --yes" in out.stderr
    assert fd(env, "run", "danger", "-t", "h01", "--yes").returncode == 0


def test_unreachable_host_exit_bit(env: dict[str, str]) -> None:
    config = Path(env["FLEETDECK_CONFIG"])
    with (config / "hosts.toml").open("a") as fh:
        fh.write('\n[hosts.gone]\naddress = "127.0.1.250"\nport = 1\n')
    out = fd(env, "exec", "-t", "h01,gone", "--", "true")
    assert out.returncode == 4
    assert "gone: unreachable: cannot connect to fleetdeck-test@127.0.1.250:1: Connection refused" in out.stderr


def test_100mb_of_output_is_kept_whole_with_bounded_memory(env: dict[str, str]) -> None:
    size = 100_000_000
    command = f"head -c {size} /dev/zero | tr '\\0' 'x' | fold -w 999"
    # The same command run here gives the bytes the host must have sent.
    expected = hashlib.sha256()
    expected_size = 0
    local = subprocess.Popen(["sh", "-c", command], stdout=subprocess.PIPE)
    assert local.stdout is not None
    while chunk := local.stdout.read(1 << 20):
        expected.update(chunk)
        expected_size += len(chunk)
    local.wait()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetdeck", "exec", "-t", "h04", "--", command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    peak_mb = usage.ru_maxrss / 1024  # Linux reports kilobytes
    assert peak_mb < 200, f"fleetdeck used {peak_mb:.0f} MB for 100 MB of output"
    state = Path(env["FLEETDECK_STATE"])
    [out_file] = state.glob("runs/*/h04.out")
    digest = hashlib.sha256()
    with out_file.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    assert out_file.stat().st_size == expected_size > size
    assert digest.hexdigest() == expected.hexdigest()
