"""The runner: a task's steps on many hosts at once, in batches, with retries, timeouts and cancel.

It owns no I/O of its own: commands go through the transports, and everything that happens is an
event published to the sinks (printer, NDJSON, store, console). Secrets are written to the command's
stdin, never its command line, and masked out of every output chunk and error message before any
sink sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from fleetdeck.core.inventory import Host
from fleetdeck.core.runner.batches import allowed_failures, should_halt, split_batches
from fleetdeck.core.runner.events import (
    BatchFinished,
    FinalStatus,
    HostConnecting,
    HostFinished,
    HostQueued,
    HostRunning,
    Output,
    RunEvent,
    RunFinished,
    RunStarted,
    Sink,
    Stream,
)
from fleetdeck.core.runner.exit_codes import run_exit_code
from fleetdeck.core.runner.masking import SecretMasker, mask_text
from fleetdeck.core.tasks.render import UPLOADED_SCRIPT, HostPlan, RenderedStep
from fleetdeck.core.transport import OutputCallback, SshTransport, StdinSource, TransportError, Transports

SCRIPT_CHUNK = 65536
STDERR_TAIL = 4096
SUDO_PASSWORD_HINTS = (b"a password is required", b"a terminal is required")


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything a run needs; ``plans`` come from :func:`fleetdeck.core.tasks.plan_task`.

    Attributes:
        run_id: Identifier of the run (from the store).
        task: Task name, or ``exec`` for an ad-hoc command.
        selector: The selector as the user gave it.
        plans: One plan per target host, in order.
        params: Parameter values with secrets already masked (for events and the audit).
        secrets: Secret parameter values by name, written to stdin and masked everywhere.
        batches: Rolling batch sizes; empty for all hosts at once.
        max_fail: Failure budget across batches.
        max_hosts: Hosts in flight at once.
        command: The ad-hoc command, when there is no saved task.
        user: The local user starting the run.
        automatic: True when a schedule or remediation started it.
        reason: Why an automatic run started (the alert, the schedule).
    """

    run_id: str
    task: str
    selector: str
    plans: Sequence[HostPlan]
    params: Mapping[str, object] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    batches: Sequence[int | str] = ()
    max_fail: int | str | None = None
    max_hosts: int = 64
    command: str | None = None
    user: str = ""
    automatic: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The outcome of a run, as its last event reported it."""

    run_id: str
    statuses: Mapping[str, FinalStatus]
    exit_code: int
    halted: bool
    cancelled: bool
    duration_s: float

    def hosts_with(self, *statuses: str) -> list[str]:
        """Host names whose final status is one of ``statuses``."""
        return [h for h, s in self.statuses.items() if s in statuses]


@dataclass(slots=True)
class _HostOutcome:
    status: FinalStatus = "ok"
    exit_status: int | None = None
    error: str | None = None
    step: str | None = None
    kill_confirmed: bool | None = None


class Runner:
    """Runs one request at a time; create one per run (it holds that run's cancel state)."""

    def __init__(self, transports: Transports, sinks: Sequence[Sink]) -> None:
        self.transports = transports
        self.sinks = list(sinks)
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelled = False
        self._statuses: dict[str, FinalStatus] = {}

    def emit(self, event: RunEvent) -> None:
        """Publish an event to every sink; a failing sink must not stop the run or the other sinks."""
        for sink in list(self.sinks):
            try:
                sink.handle(event)
            except BrokenPipeError:
                # The reader of our output went away (`| head`): stop printing, keep running and recording.
                self.sinks.remove(sink)
            except Exception as exc:  # a sink bug must never lose the run
                self.sinks.remove(sink)
                print(f"fleetdeck: internal error in {type(sink).__name__}, output disabled: {exc!r}", file=sys.stderr)

    def cancel(self) -> None:
        """Stop the run: hosts in flight are killed and reported ``cancelled``, queued hosts never start."""
        self._cancelled = True
        for task in list(self._tasks):
            task.cancel()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancelled

    async def run(self, request: RunRequest) -> RunSummary:
        """Run the request to its end and return the summary (also sent as ``RunFinished``)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        plans = {p.host.name: p for p in request.plans}
        order = list(plans)
        self.emit(
            RunStarted(
                request.run_id,
                request.task,
                request.selector,
                tuple(order),
                dict(request.params),
                command=request.command,
                user=request.user,
                automatic=request.automatic,
                reason=request.reason,
            )
        )
        slots = asyncio.Semaphore(max(1, request.max_hosts))
        allowed = allowed_failures(request.max_fail, len(order))
        batches = split_batches(order, request.batches)
        halted = False
        failed_total = 0
        for index, batch in enumerate(batches, 1):
            if self._cancelled or halted:
                break
            for name in batch:
                self.emit(HostQueued(request.run_id, name))
            tasks = [asyncio.ensure_future(self._host(request, plans[name], slots)) for name in batch]
            self._tasks.update(tasks)
            try:
                await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                self._tasks.difference_update(tasks)
            batch_failed = sum(1 for n in batch if self._statuses.get(n, "cancelled") != "ok")
            failed_total += batch_failed
            halt = (
                not self._cancelled
                and index < len(batches)
                and should_halt(failed_total, batch_failed, len(batch), allowed)
            )
            self.emit(BatchFinished(request.run_id, index, len(batches), tuple(batch), batch_failed, halted=halt))
            halted = halt
        ran = dict(self._statuses)
        for name in order:
            if name not in self._statuses:
                why = "halted by the failure budget" if halted else "run cancelled"
                self._statuses[name] = "cancelled"
                self.emit(HostFinished(request.run_id, name, "cancelled", None, 0.0, f"not run: {why}"))
        counts: Counter[str] = Counter(self._statuses[n] for n in order)
        code = run_exit_code(ran.values(), halted=halted)
        if self._cancelled:
            code |= run_exit_code(["cancelled"])
        duration = loop.time() - started
        self.emit(RunFinished(request.run_id, dict(counts), code, duration, halted=halted, cancelled=self._cancelled))
        for sink in self.sinks:
            with contextlib.suppress(Exception):
                sink.close()
        return RunSummary(request.run_id, dict(self._statuses), code, halted, self._cancelled, duration)

    async def _host(self, request: RunRequest, plan: HostPlan, slots: asyncio.Semaphore) -> None:
        host = plan.host
        secret_values = list(request.secrets.values())
        outcome = _HostOutcome()
        start = time.monotonic()
        stderr_tail = bytearray()
        maskers: dict[Stream, SecretMasker] = {
            "stdout": SecretMasker(secret_values),
            "stderr": SecretMasker(secret_values),
        }
        current_step = [""]

        def on_output(stream: Stream, data: bytes) -> None:
            if stream == "stderr":
                stderr_tail.extend(data)
                del stderr_tail[:-STDERR_TAIL]
            safe = maskers[stream].feed(data)
            if safe:
                self.emit(Output(request.run_id, host.name, stream, safe, current_step[0]))

        def flush_masks() -> None:
            for stream, masker in maskers.items():
                rest = masker.flush()
                if rest:
                    self.emit(Output(request.run_id, host.name, stream, rest, current_step[0]))

        try:
            async with slots:
                if self._cancelled:
                    raise asyncio.CancelledError
                self.emit(HostConnecting(request.run_id, host.name))
                transport = self.transports.for_host(host)
                if isinstance(transport, SshTransport):
                    await transport.connection(host)
                for index, step in enumerate(plan.steps, 1):
                    current_step[0] = step.name
                    stderr_tail.clear()
                    await self._step(request, host, step, index, on_output, outcome, stderr_tail)
                    if outcome.status != "ok":
                        break
                if outcome.status == "failed" and plan.on_failure is not None:
                    current_step[0] = plan.on_failure.name
                    extra = _HostOutcome()
                    await self._step(request, host, plan.on_failure, 0, on_output, extra, bytearray())
        except TransportError as exc:
            outcome.status = exc.status
            outcome.error = str(exc)
            outcome.step = outcome.step or (current_step[0] or None)
        except asyncio.CancelledError:
            outcome.status = "cancelled"
            outcome.error = outcome.error or "cancelled by the user"
        except Exception as exc:  # any bug stays with its host
            outcome.status = "error"
            outcome.error = f"{type(exc).__name__}: {exc}"
        finally:
            flush_masks()
        self._statuses[host.name] = outcome.status
        error = mask_text(outcome.error, secret_values) if outcome.error else None
        self.emit(
            HostFinished(
                request.run_id,
                host.name,
                outcome.status,
                outcome.exit_status,
                time.monotonic() - start,
                error,
                outcome.step,
                outcome.kill_confirmed,
            )
        )

    async def _step(
        self,
        request: RunRequest,
        host: Host,
        step: RenderedStep,
        index: int,
        on_output: OutputCallback,
        outcome: _HostOutcome,
        stderr_tail: bytearray,
    ) -> None:
        transport = self.transports.for_host(host)
        command = step.command
        staged_dir: str | None = None
        if step.upload and step.script is not None:
            remote, staged_dir = await transport.stage_file(host, step.script)
            command = command.replace(UPLOADED_SCRIPT, remote)
        try:
            await self._attempts(request, host, step, index, command, on_output, outcome, stderr_tail)
        finally:
            if staged_dir is not None:
                await asyncio.shield(transport.remove_dir(host, staged_dir))

    async def _attempts(
        self,
        request: RunRequest,
        host: Host,
        step: RenderedStep,
        index: int,
        command: str,
        on_output: OutputCallback,
        outcome: _HostOutcome,
        stderr_tail: bytearray,
    ) -> None:
        spec = step.step
        transport = self.transports.for_host(host)
        attempts = spec.retries + 1
        for attempt in range(1, attempts + 1):
            self.emit(HostRunning(request.run_id, host.name, step.name, index, attempt))
            result = await transport.execute(
                host,
                command,
                on_output,
                stdin=self._stdin(step, request.secrets),
                timeout=spec.timeout,
                no_output_timeout=spec.no_output_timeout,
            )
            outcome.step = step.name
            if result.timed_out is not None:
                outcome.status = "timeout"
                outcome.kill_confirmed = result.kill_confirmed
                limit = spec.timeout if result.timed_out == "timeout" else spec.no_output_timeout
                what = "ran longer than" if result.timed_out == "timeout" else "printed nothing for"
                killed = "killed" if result.kill_confirmed else "kill not confirmed"
                outcome.error = f"step {step.name} {what} {limit:g}s ({killed})"
                return
            outcome.exit_status = result.exit_status
            if result.exit_status == 0:
                outcome.status = "ok"
                return
            if spec.ignore_errors:
                outcome.status = "ok"
                return
            if attempt < attempts and not self._cancelled:
                await asyncio.sleep(spec.retry_delay)
                continue
            outcome.status = "failed"
            if result.signal:
                outcome.error = f"step {step.name} killed by signal {result.signal}"
            elif spec.sudo and result.exit_status == 1 and any(h in stderr_tail for h in SUDO_PASSWORD_HINTS):
                outcome.error = (
                    f"step {step.name}: sudo wants a password on {host.name}; fleetdeck runs sudo -n "
                    "(allow this command with NOPASSWD, or run the task without sudo)"
                )
            else:
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                outcome.error = f"step {step.name} exited with status {result.exit_status}{tries}"
            return

    @staticmethod
    def _stdin(step: RenderedStep, secrets: Mapping[str, str]) -> StdinSource | None:
        piped = step.script if not step.upload else None
        if not step.secrets and piped is None:
            return None

        async def feed() -> AsyncIterator[bytes]:
            for name in step.secrets:
                yield secrets.get(name, "").encode() + b"\n"
            if piped is not None:
                with piped.open("rb") as fh:
                    while chunk := fh.read(SCRIPT_CHUNK):
                        yield chunk

        return feed
