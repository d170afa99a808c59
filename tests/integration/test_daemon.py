"""``fleetdeck daemon`` end to end on the real SSH fleet: alert fires, remediation runs, SIGTERM is clean."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fleet import FleetFactory
from integration.test_notify_receiver import Receiver

pytestmark = pytest.mark.ssh

TASKS = """
[tasks.mark]
description = "leave a trace that remediation ran"
command = "echo remediated {host} >> {path}"
params.path = { type = "str", pattern = "^/" }
"""

ALERTS = """
[[rules]]
name = "HostDown"
expr = "host_down"
for = "2s"
severity = "critical"
annotations = {{ summary = "{{host}} is down" }}

[[rules]]
name = "RootUsed"
expr = 'disk_used_pct{{mount="/"}} > 0'
for = "2s"
severity = "warning"
annotations = {{ summary = "{{host}}: / is {{value:.0f}}% used" }}
remediate = {{ task = "mark", params = {{ path = "{marker}" }} }}
"""

NOTIFY = """
[defaults]
channels = ["hook"]
group_wait = "1s"
group_interval = "1s"

[[channels]]
name = "hook"
type = "webhook"
url = "{url}"
"""

REMEDIATION = """
allow = ["mark"]
cooldown = "1h"
max_runs_per_hour = 10
max_hosts_per_run = 5
batch_window = "1s"
"""


def fd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleetdeck", *args], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def wait_for(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.3)
    return bool(pred())


def alerts_seen(receiver: Receiver) -> list[tuple[str, str, str]]:
    """(status, alertname, host) of every alert in every webhook delivery, in order."""
    out = []
    for req in receiver.requests("/alerts"):
        for alert in req.json()["alerts"]:
            out.append((alert["status"], alert["labels"].get("alertname", ""), alert["labels"].get("host", "")))
    return out


def test_alert_fires_remediation_runs_and_sigterm_stops_cleanly(make_fleet: FleetFactory, tmp_path: Path) -> None:
    receiver = Receiver().start()
    fleet = make_fleet(2)
    shared = Path(tempfile.mkdtemp(prefix="fd-daemon-"))
    shared.chmod(0o777)
    marker = shared / "marker"
    config = tmp_path / "config"
    shutil.copytree(fleet.config_dir, config)
    (config / "tasks.toml").write_text(TASKS)
    (config / "alerts.toml").write_text(ALERTS.format(marker=marker))
    (config / "remediation.toml").write_text(REMEDIATION)
    (config / "notify.toml").write_text(NOTIFY.format(url=receiver.url("/alerts")))
    env = {**os.environ, "FLEETDECK_CONFIG": str(config), "FLEETDECK_STATE": str(tmp_path / "state")}
    assert fd(env, "check").returncode == 0
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "fleetdeck", "daemon", "--interval", "1"], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        names = [n for n, _ in fleet.hosts]
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if marker.exists() and all(f"remediated {n}" in marker.read_text() for n in names):
                break
            time.sleep(0.3)
        text = log.read_text()
        assert marker.exists(), text
        assert sorted(marker.read_text().split("\n")[:-1]) == sorted(f"remediated {n}" for n in names), text
        for n in names:
            assert f"alert RootUsed@{n}:/ pending -> firing" in text
        alerts = json.loads(fd(env, "alerts", "--json").stdout)
        assert {(a["rule"], a["host"], a["state"]) for a in alerts} >= {("RootUsed", n, "firing") for n in names}
        runs = json.loads(fd(env, "history", "--json").stdout)
        [run] = [r for r in runs if r["task"] == "mark"]
        assert run["automatic"] is True and "remediation for alert RootUsed" in run["reason"]
        table = fd(env, "history").stdout
        assert any(
            line.startswith(run["id"]) and line.rstrip().endswith("auto RootUsed") for line in table.splitlines()
        ), table
        shown = fd(env, "history", run["id"]).stdout
        assert "by auto RootUsed" in shown and "reason: remediation for alert RootUsed" in shown, shown
        # The firing alerts reached the webhook (Alertmanager v4 JSON).
        assert wait_for(lambda: {("firing", "RootUsed", n) for n in names} <= set(alerts_seen(receiver)), 20)
        # A host going down fires HostDown; coming back resolves it, and both reach the webhook.
        fleet.crash_sshd()
        assert wait_for(lambda: ("firing", "HostDown", names[0]) in alerts_seen(receiver), 30), log.read_text()
        fleet.start_sshd()
        assert wait_for(lambda: ("resolved", "HostDown", names[0]) in alerts_seen(receiver), 40), log.read_text()
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            code = daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            pytest.fail(f"the daemon did not stop on SIGTERM:\n{log.read_text()}")
        shutil.rmtree(shared, ignore_errors=True)
    assert code == 0, log.read_text()
    assert "fleetdeck daemon: stopped" in log.read_text()
    # One run for both hosts: the cooldown and the batching held (no duplicate remediation).
    runs = json.loads(fd(env, "history", "--json").stdout)
    assert len([r for r in runs if r["task"] == "mark"]) == 1
    # A restart resumes the outbox and sends nothing twice.
    delivered = len(receiver.requests("/alerts"))
    with log.open("a") as out:
        again = subprocess.Popen([sys.executable, "-m", "fleetdeck", "daemon", "--interval", "1"], env=env,
                                 stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    assert wait_for(lambda: log.read_text().count("fleetdeck daemon: watching") == 2, 30), log.read_text()
    time.sleep(3)
    again.send_signal(signal.SIGTERM)
    try:
        assert again.wait(timeout=30) == 0, log.read_text()
    except subprocess.TimeoutExpired:
        again.kill()
        pytest.fail(f"the restarted daemon did not stop on SIGTERM:\n{log.read_text()}")
    keys = [r.headers["idempotency-key"] for r in receiver.requests("/alerts")]
    assert len(keys) == len(set(keys)), "a notification was delivered twice"
    assert len(keys) >= delivered
    receiver.stop()
