"""Remediation guard rails: allow-list, cooldown, runs per hour, hosts per run, approval, batching."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from fleetdeck.core.alerts.expr import parse_expr
from fleetdeck.core.alerts.rules import Remediation, Rule
from fleetdeck.core.alerts.state import AlertChanged, alert_key
from fleetdeck.core.automation.remediation import ApprovalQueue, RemediationConfig, Remediator
from fleetdeck.core.errors import FleetdeckError

RULE = Rule(name="TmpFull", condition=parse_expr('disk_used_pct{mount="/"} > 90'),
            remediate=Remediation("clean-tmp", {"path": "/tmp"}))  # fmt: skip


def firing(host: str, value: float = 95.0, silenced: bool = False) -> AlertChanged:
    return AlertChanged(rule="TmpFull", host=host, key=alert_key("TmpFull", host, "/"), mount="/",
                        old_state="pending", new_state="firing", value=value, severity="warning", labels={},
                        annotations={}, since=0.0, active_since=0.0, fired_at=0.0, silenced=silenced)  # fmt: skip


class Harness:
    def __init__(self, config: RemediationConfig, queue: ApprovalQueue | None = None) -> None:
        self.now = 1000.0
        self.runs: list[tuple[str, tuple[str, ...], dict[str, str], str]] = []
        self.logs: list[str] = []
        self.reports: list[str] = []

        async def run_task(task: str, hosts: Sequence[str], params: Mapping[str, str], reason: str) -> int:
            self.runs.append((task, tuple(hosts), dict(params), reason))
            return 0

        self.rem = Remediator(config, {"TmpFull": RULE}, run_task, queue=queue,
                              log=lambda lvl, m: self.logs.append(m),
                              report=lambda title, text, labels: self.reports.append(title),
                              clock=lambda: self.now)  # fmt: skip

    async def flush(self) -> None:
        self.now += 10
        for batch in self.rem.due_batches():
            self.rem.dispatch(batch)
        self.rem.approved()
        await asyncio.sleep(0.01)


ALLOW = RemediationConfig(allow=frozenset({"clean-tmp"}), cooldown_s=600, max_runs_per_hour=2, max_hosts_per_run=2)


async def test_batches_hosts_of_one_rule_into_one_run() -> None:
    h = Harness(ALLOW)
    h.rem.on_alert(firing("web01", 93.0))
    h.rem.on_alert(firing("web02", 97.5))
    h.rem.on_alert(firing("web03", silenced=True))  # silenced alerts never remediate
    await h.flush()
    assert len(h.runs) == 1
    task, hosts, params, reason = h.runs[0]
    assert (task, hosts, params) == ("clean-tmp", ("web01", "web02"), {"path": "/tmp"})
    assert reason == 'remediation for alert TmpFull (disk_used_pct{mount="/"} > 90) on web01=93, web02=97.5'
    assert h.reports[-1] == "Remediation clean-tmp on web[01-02] succeeded"


async def test_a_late_announcement_of_a_firing_alert_does_not_remediate_again() -> None:
    # firing -> firing: the alert was firing all along, inhibited by a worse one that has now resolved.
    h = Harness(ALLOW)
    h.rem.on_alert(replace(firing("web01"), old_state="firing"))
    await h.flush()
    assert h.runs == []
    h.rem.on_alert(firing("web01"))
    await h.flush()
    assert [hosts for _task, hosts, _params, _reason in h.runs] == [("web01",)]


async def test_not_allowed_task_never_runs() -> None:
    h = Harness(RemediationConfig())
    h.rem.on_alert(firing("web01"))
    await h.flush()
    assert h.runs == []
    assert "not on the remediation allow-list" in h.logs[0]
    assert h.reports == ["Remediation of TmpFull held back"]


async def test_cooldown_runs_per_hour_and_hosts_per_run() -> None:
    h = Harness(ALLOW)
    for host in ("a1", "a2", "a3"):
        h.rem.on_alert(firing(host))
    await h.flush()
    assert h.runs[0][1] == ("a1", "a2")
    assert any("cap of 2 hosts per run: not a3" in m for m in h.logs)
    h.rem.on_alert(firing("a1"))  # cooling down
    h.rem.on_alert(firing("a3"))
    await h.flush()
    assert h.runs[1][1] == ("a3",)
    assert any("a1 is cooling down" in m for m in h.logs)
    h.rem.on_alert(firing("b1"))
    await h.flush()
    assert len(h.runs) == 2 and any("cap of 2 remediation runs per hour reached" in m for m in h.logs)
    h.now += 3600
    h.rem.on_alert(firing("b1"))
    await h.flush()
    assert h.runs[-1][1] == ("b1",)


async def test_approval_waits_in_a_persistent_queue(tmp_path: Path) -> None:
    queue = ApprovalQueue(tmp_path)
    h = Harness(RemediationConfig(allow=frozenset({"clean-tmp"}), approval=True), queue)
    h.rem.on_alert(firing("web01"))
    await h.flush()
    assert h.runs == []
    [pending] = ApprovalQueue(tmp_path).list()  # another process sees it
    assert pending.task == "clean-tmp" and pending.hosts == ("web01",)
    assert h.reports == [f"Remediation #{pending.id} awaits approval"]
    ApprovalQueue(tmp_path).decide(pending.id, approve=True, by="alice")
    await h.flush()
    assert h.runs and h.runs[0][3].endswith(f"(approved #{pending.id})")
    with pytest.raises(FleetdeckError, match="no pending remediation with id 999"):
        queue.decide(999, approve=True, by="alice")
