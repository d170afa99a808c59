"""The runner on the real SSH test fleet: statuses from real faults, batches, retries, secrets, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fleet import FleetFactory, SshFleet
from fleetdeck.core.config import load_config
from fleetdeck.core.inventory import Host
from fleetdeck.core.runner.events import BatchFinished, HostFinished, Output, RunEvent, RunFinished
from fleetdeck.core.runner.runner import Runner, RunRequest, RunSummary
from fleetdeck.core.tasks.model import Step
from fleetdeck.core.tasks.render import HostPlan, RenderedStep
from fleetdeck.core.transport import SshTransport, Transports
from fleetdeck.core.transport.hostkeys import KnownHosts

pytestmark = pytest.mark.ssh


class Events:
    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    def handle(self, event: RunEvent) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass

    def finished(self) -> dict[str, HostFinished]:
        return {e.host: e for e in self.events if isinstance(e, HostFinished)}

    def output(self, host: str) -> bytes:
        return b"".join(e.data for e in self.events if isinstance(e, Output) and e.host == host)


def plan(host: Host, *commands: str | RenderedStep, **step: object) -> HostPlan:
    steps = []
    for i, c in enumerate(commands):
        if isinstance(c, RenderedStep):
            steps.append(c)
        else:
            steps.append(RenderedStep(f"s{i + 1}", c, (), None, Step(name=f"s{i + 1}", command=c, **step)))  # type: ignore[arg-type]
    return HostPlan(host, tuple(steps), None)


@pytest.fixture
def setup(ssh_fleet: SshFleet, tmp_path: Path) -> Iterator[tuple[list[Host], Transports]]:
    inv = load_config(ssh_fleet.config_dir).inventory
    yield inv.hosts, Transports(SshTransport(KnownHosts(tmp_path / "kh"), inv.get))


async def run(transports: Transports, plans: list[HostPlan], **kw: object) -> tuple[Events, RunSummary]:
    sink = Events()
    summary = await Runner(transports, [sink]).run(RunRequest("r1", "t", "sel", plans, **kw))  # type: ignore[arg-type]
    return sink, summary


async def test_ok_failed_and_exit_code(setup: tuple[list[Host], Transports]) -> None:
    hosts, transports = setup
    sink, summary = await run(transports, [plan(hosts[0], "echo hi"), plan(hosts[1], "echo no >&2; exit 5")])
    done = sink.finished()
    assert done[hosts[0].name].status == "ok" and done[hosts[0].name].exit_status == 0
    assert done[hosts[1].name].status == "failed" and done[hosts[1].name].exit_status == 5
    assert done[hosts[1].name].error == "step s1 exited with status 5"
    assert summary.exit_code == 2
    assert sink.output(hosts[0].name) == b"hi\n"
    await transports.close()


async def test_steps_stop_at_first_failure_and_retries(setup: tuple[list[Host], Transports], tmp_path: Path) -> None:
    hosts, transports = setup
    counter = f"/tmp/fd-retry-{tmp_path.name}"
    flaky = f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; echo try $n; [ $n -ge 3 ]"
    retry_step = RenderedStep("flaky", flaky, (), None, Step(name="flaky", command=flaky, retries=3, retry_delay=0.1))
    sink, _summary = await run(transports, [plan(hosts[0], retry_step, f"rm -f {counter}; echo after")])
    assert sink.finished()[hosts[0].name].status == "ok"
    assert sink.output(hosts[0].name) == b"try 1\ntry 2\ntry 3\nafter\n"
    sink, _ = await run(transports, [plan(hosts[1], "false", "echo never")])
    assert sink.output(hosts[1].name) == b""
    assert sink.finished()[hosts[1].name].step == "s1"
    await transports.close()


async def test_timeout_status_and_kill_confirmed(setup: tuple[list[Host], Transports]) -> None:
    hosts, transports = setup
    sink, summary = await run(transports, [plan(hosts[2], "echo start; sleep 60", timeout=1.0)])
    done = sink.finished()[hosts[2].name]
    assert done.status == "timeout" and done.kill_confirmed is True
    assert done.error == "step s1 ran longer than 1s (killed)"
    assert summary.exit_code == 8
    await transports.close()


async def test_unreachable_host_does_not_hold_up_others(setup: tuple[list[Host], Transports]) -> None:
    hosts, transports = setup
    dead = replace(hosts[0], name="dead", port=1)
    sink, summary = await run(transports, [plan(dead, "true"), plan(hosts[1], "echo fine")])
    done = sink.finished()
    assert done["dead"].status == "unreachable" and "cannot connect" in (done["dead"].error or "")
    assert done[hosts[1].name].status == "ok"
    assert summary.exit_code == 4
    await transports.close()


async def test_secret_is_masked_everywhere(setup: tuple[list[Host], Transports]) -> None:
    hosts, transports = setup
    secret = "hunter2-TOP"
    cmd = 'sh -c \'IFS= read -r FLEETDECK_SECRET_PW; export FLEETDECK_SECRET_PW; printf "%s" "pw=$FLEETDECK_SECRET_PW"; echo; echo "$FLEETDECK_SECRET_PW" | cut -c1-5; echo "$FLEETDECK_SECRET_PW" >&2; exit 3\''
    step = RenderedStep("s", cmd, ("pw",), None, Step(name="s", command=cmd))
    sink, _ = await run(transports, [plan(hosts[0], step)], secrets={"pw": secret})
    everything = repr(sink.events)
    assert secret not in everything
    assert b"pw=***\n" in sink.output(hosts[0].name)
    await transports.close()


async def test_batches_and_failure_budget_halt(setup: tuple[list[Host], Transports]) -> None:
    hosts, transports = setup
    plans = [plan(hosts[0], "exit 1")] + [plan(h, "echo ok") for h in hosts[1:]]
    sink, summary = await run(transports, plans, batches=[1, 2], max_fail=0)
    batches = [e for e in sink.events if isinstance(e, BatchFinished)]
    assert [(b.index, b.total, b.failed, b.halted) for b in batches] == [(1, 3, 1, True)]
    done = sink.finished()
    assert [done[h.name].status for h in hosts] == ["failed", "cancelled", "cancelled", "cancelled"]
    assert done[hosts[1].name].error == "not run: halted by the failure budget"
    assert summary.exit_code == 2 | 16
    finished = next(e for e in sink.events if isinstance(e, RunFinished))
    assert finished.halted and finished.counts == {"failed": 1, "cancelled": 3}
    await transports.close()


async def test_batches_run_in_order_when_healthy(setup: tuple[list[Host], Transports]) -> None:
    hosts, transports = setup
    sink, summary = await run(transports, [plan(h, "echo ok") for h in hosts], batches=[1, "50%"], max_fail="10%")
    batches = [e.hosts for e in sink.events if isinstance(e, BatchFinished)]
    assert batches == [(hosts[0].name,), (hosts[1].name, hosts[2].name), (hosts[3].name,)]
    assert summary.exit_code == 0
    await transports.close()


async def test_cancel_mid_run_kills_and_reports(setup: tuple[list[Host], Transports]) -> None:
    hosts, transports = setup
    sink = Events()
    runner = Runner(transports, [sink])
    task = asyncio.ensure_future(runner.run(RunRequest("r1", "t", "s", [plan(h, "sleep 30") for h in hosts[:2]])))
    await asyncio.sleep(1.5)
    runner.cancel()
    summary = await asyncio.wait_for(task, 10)
    assert {e.status for e in sink.finished().values()} == {"cancelled"}
    assert summary.exit_code == 32 and summary.cancelled
    await transports.close()


async def test_sshd_killed_mid_command(make_fleet: FleetFactory, tmp_path: Path) -> None:
    fleet = make_fleet(2)
    inv = load_config(fleet.config_dir).inventory
    transports = Transports(SshTransport(KnownHosts(tmp_path / "kh"), inv.get))
    sink = Events()
    runner = Runner(transports, [sink])
    task = asyncio.ensure_future(
        runner.run(RunRequest("r1", "t", "s", [plan(h, "echo go; sleep 30", timeout=20) for h in inv.hosts]))
    )
    await asyncio.sleep(1.5)
    fleet.crash_sshd()
    summary = await asyncio.wait_for(task, 15)
    statuses = {e.status for e in sink.finished().values()}
    assert statuses == {"unreachable"}, sink.finished()
    assert all("connection lost" in (e.error or "") for e in sink.finished().values())
    assert summary.exit_code == 4
    await transports.close()


async def test_on_failure_step_runs_and_host_stays_failed(setup: tuple[list[Host], Transports]) -> None:
    hosts, transports = setup
    rescue = RenderedStep("rescue", "echo rolling back", (), None, Step(name="rescue", command="echo rolling back"))
    failing = plan(hosts[0], "echo deploy; exit 7", "echo never")
    failing = HostPlan(failing.host, failing.steps, rescue)
    ok = HostPlan(hosts[1], plan(hosts[1], "echo fine").steps, rescue)
    sink, summary = await run(transports, [failing, ok])
    done = sink.finished()
    assert done[hosts[0].name].status == "failed" and done[hosts[0].name].exit_status == 7
    assert sink.output(hosts[0].name) == b"deploy\nrolling back\n"
    assert sink.output(hosts[1].name) == b"fine\n"
    assert summary.exit_code == 2
    await transports.close()
