"""The engine's public API for runs: plan a task or a command, run it, cancel it, look up past results.

The CLI and the console both go through :class:`Engine`; it wires the inventory, the transports
(one connection pool shared by every run) and the store, and resolves run result sets such as
``@last.failed`` inside selectors.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fleetdeck.core.config import Config
from fleetdeck.core.errors import UsageError
from fleetdeck.core.inventory import Host
from fleetdeck.core.paths import state_dir
from fleetdeck.core.runner.events import Sink
from fleetdeck.core.runner.runner import Runner, RunRequest, RunSummary
from fleetdeck.core.selector import SelectorError
from fleetdeck.core.store import RunStore, StoreSink, UnknownRunError
from fleetdeck.core.tasks import Task, bind_params, plan_task
from fleetdeck.core.tasks.model import Step
from fleetdeck.core.tasks.params import BoundParams
from fleetdeck.core.tasks.render import HostPlan, RenderedStep
from fleetdeck.core.transport import LocalTransport, SshLimits, SshTransport, Transports
from fleetdeck.core.transport.hostkeys import KnownHosts
from fleetdeck.core.transport.intake import Intake
from fleetdeck.core.transport.rlimit import fanout_cap

_NOT_OK = ("failed", "error", "timeout", "unreachable", "auth_failed", "host_key_failed", "cancelled", "unfinished")
RESULT_SETS: Mapping[str, tuple[str, ...]] = {
    "ok": ("ok",),
    "failed": _NOT_OK,  # "rerun the failed hosts" means every host that did not end ok
    "error": ("failed", "error"),
    "timeout": ("timeout",),
    "unreachable": ("unreachable", "auth_failed", "host_key_failed"),
    "cancelled": ("cancelled", "unfinished"),
}
_RESULT_SET = re.compile(r"^(?P<run>[^.]+)\.(?P<set>[a-z]+)$")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A planned run, ready for :meth:`Engine.run` (and printable as a dry run)."""

    request: RunRequest
    task: Task | None
    params: BoundParams | None

    @property
    def plans(self) -> Sequence[HostPlan]:
        """The per-host plans."""
        return self.request.plans


class Engine:
    """Runs tasks and commands on the configured inventory; one per process, shared by all runs."""

    def __init__(
        self,
        config: Config,
        *,
        state: Path | None = None,
        max_hosts: int = 64,
        max_handshakes: int = 32,
    ) -> None:
        self.config = config
        self.state = state or state_dir()
        self.max_hosts, self.fanout_warning = fanout_cap(max_hosts)
        known = KnownHosts(self.state / "known_hosts")
        self.intake = Intake()
        """Paces the reading of every run's output; a console holds it while the operator's key is in flight."""
        ssh = SshTransport(known, config.inventory.get, SshLimits(max_handshakes=max_handshakes), self.intake)
        self.transports = Transports(ssh, LocalTransport(self.intake))
        self._store: RunStore | None = None
        self._active: dict[str, Runner] = {}

    @property
    def store(self) -> RunStore:
        """The run store, opened on first use (dry runs never touch the state dir)."""
        if self._store is None:
            self._store = RunStore(self.state)
        return self._store

    def result_set(self, name: str) -> list[str] | None:
        """Hosts of ``last.failed`` / ``RUN.ok`` style names; None when ``name`` is not one."""
        match = _RESULT_SET.match(name)
        if match is None or match.group("set") not in RESULT_SETS:
            return None
        try:
            return self.store.hosts_with_status(match.group("run"), RESULT_SETS[match.group("set")])
        except UnknownRunError as exc:
            raise SelectorError(f"@{name}: {exc}") from None

    def select(self, selector: str, *, allow_empty: bool = False) -> list[Host]:
        """Hosts matching ``selector`` (result sets included); errors name what is unknown."""
        try:
            hosts = self.config.inventory.select(selector, self.result_set)
        except SelectorError as exc:
            raise UsageError(str(exc)) from None
        if not hosts and not allow_empty:
            raise UsageError(f'selector "{selector}" matches no hosts')
        return hosts

    def prepare_task(
        self,
        name: str,
        selector: str | None,
        given: Mapping[str, str],
        *,
        env: Mapping[str, str] | None = None,
        dry_run: bool = False,
        run_id: str = "dry-run",
    ) -> Prepared:
        """Check parameters and targets of a saved task and render its commands for each host."""
        task = self.config.tasks.get(name)
        if task is None:
            known = ", ".join(self.config.tasks) or "none defined"
            raise UsageError(f'unknown task "{name}" (tasks: {known})')
        chosen = selector or task.targets
        if not chosen:
            raise UsageError(f"task {task.name} has no default targets: give -t SELECTOR")
        hosts = self.select(chosen)
        params = bind_params(task, given, env, allow_missing_secrets=dry_run)
        plans = plan_task(task, hosts, params)
        secrets = {n: str(params.values[n]) for n in params.secrets}
        request = RunRequest(
            run_id=run_id,
            task=task.name,
            selector=chosen,
            plans=plans,
            params=params.masked(),
            secrets=secrets,
            batches=task.batches,
            max_fail=task.max_fail,
            max_hosts=self.max_hosts,
            user=_local_user(),
        )
        return Prepared(request, task, params)

    def prepare_command(
        self,
        command: str,
        selector: str,
        *,
        timeout: float | None = None,
        no_output_timeout: float | None = None,
        run_id: str = "dry-run",
    ) -> Prepared:
        """Plan an ad-hoc command on the hosts ``selector`` picks."""
        if not command.strip():
            raise UsageError("no command given: fleetdeck exec -t SELECTOR -- COMMAND")
        hosts = self.select(selector)
        step = Step(name="exec", command=command, timeout=timeout, no_output_timeout=no_output_timeout)
        rendered = RenderedStep("exec", command, (), None, step)
        plans = [HostPlan(h, (rendered,), None) for h in hosts]
        request = RunRequest(
            run_id=run_id,
            task="exec",
            selector=selector,
            plans=plans,
            command=command,
            max_hosts=self.max_hosts,
            user=_local_user(),
        )
        return Prepared(request, None, None)

    def new_run_id(self) -> str:
        """A fresh run id from the store."""
        return self.store.new_run_id()

    async def run(self, prepared: Prepared, sinks: Sequence[Sink]) -> RunSummary:
        """Run a prepared request, recording it in the store alongside the given sinks."""
        request = prepared.request
        runner = Runner(self.transports, [*sinks, StoreSink(self.store)])
        self._active[request.run_id] = runner
        try:
            summary = await runner.run(request)
        finally:
            self._active.pop(request.run_id, None)
        # The record is complete when this returns (history, @last.failed), without blocking the loop.
        await asyncio.to_thread(self.store.flush)
        return summary

    def cancel(self, run_id: str | None = None) -> None:
        """Cancel one active run, or all of them."""
        for rid, runner in list(self._active.items()):
            if run_id is None or rid == run_id:
                runner.cancel()

    @property
    def active_runs(self) -> Collection[str]:
        """Ids of runs in progress."""
        return tuple(self._active)

    async def close(self) -> None:
        """Close pooled connections and the store (the store's flush blocks, so it runs in a thread)."""
        await self.transports.close()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)
            self._store = None


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")
