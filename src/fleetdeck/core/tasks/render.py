"""Expand a task into the exact remote command lines for each host.

Values are shell-quoted unless their parameter says ``raw = true``. Secrets never appear in a command
line (which would show in ``ps`` on the host and in logs): a secret placeholder becomes a shell
variable, and the command starts by reading that variable from stdin, where the runner writes it.
Script steps pipe the local file into the interpreter after any secrets, so nothing is installed on
the host and nothing stays behind.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fleetdeck.core.inventory import Host
from fleetdeck.core.tasks.model import Step, Task, script_interpreter
from fleetdeck.core.tasks.params import BoundParams, ParamError, env_name
from fleetdeck.core.tasks.template import substitute

UPLOADED_SCRIPT = '"$FLEETDECK_UPLOADED_SCRIPT"'
"""Stands for the uploaded script's remote path in a rendered command until the runner knows it."""
_STDIN_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox sh"}


@dataclass(frozen=True, slots=True)
class RenderedStep:
    """One step ready to run: the remote command and what to write to its stdin first.

    Attributes:
        name: The step's name.
        command: The exact command line sent to the host.
        secrets: Names of secret params whose values the runner writes to stdin, one per line, in order.
        script: A local file to stream to stdin after the secrets (script steps), or to upload.
        step: The step definition (timeouts, retries).
        upload: The script goes over SFTP to a private temp dir; ``command`` names it as
            :data:`UPLOADED_SCRIPT`, which the runner replaces with the remote path.
    """

    name: str
    command: str
    secrets: tuple[str, ...]
    script: Path | None
    step: Step
    upload: bool = False

    def describe(self) -> str:
        """The command as a dry run shows it, with where its stdin comes from."""
        feeds = [f"secret {s}" for s in self.secrets]
        if self.script is not None and not self.upload:
            feeds.append(str(self.script))
        shown = self.command
        if self.upload and self.script is not None:
            shown = shown.replace(UPLOADED_SCRIPT, f"<tmp>/{self.script.name}")
            shown += f"   (uploaded from {self.script} over SFTP, removed after)"
        return shown + (f"   < {' + '.join(feeds)}" if feeds else "")


@dataclass(frozen=True, slots=True)
class HostPlan:
    """Everything one host would run for a task, in order."""

    host: Host
    steps: tuple[RenderedStep, ...]
    on_failure: RenderedStep | None


def secret_env_name(param: str) -> str:
    """The shell variable a secret param is read into on the host."""
    return env_name(param, secret=True)


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_step(task: Task, step: Step, host: Host, params: BoundParams) -> RenderedStep:
    """Render one step for one host; a missing ``{vars.NAME}`` raises :class:`ParamError`."""
    secrets: list[str] = []

    def resolve(name: str) -> str:
        if name == "host":
            return shlex.quote(host.name)
        if name == "address":
            return shlex.quote(host.address)
        if name == "user":
            return shlex.quote(host.user)
        if name == "port":
            return str(host.port)
        if name.startswith("vars."):
            key = name[5:]
            if key not in host.vars:
                raise ParamError(
                    f'task {task.name}, step {step.name}: host {host.name} has no variable "{key}" (used as {{{name}}})'
                )
            return shlex.quote(_value_text(host.vars[key]))
        param = task.params[name]
        if param.type == "secret":
            if name not in secrets:
                secrets.append(name)
            return '"$' + secret_env_name(name) + '"'
        text = _value_text(params.values[name])
        return text if param.raw else shlex.quote(text)

    if step.script is not None:
        interpreter = script_interpreter(step)
        args = [substitute(a, resolve) for a in step.args]
        if step.upload:
            body = " ".join([interpreter, UPLOADED_SCRIPT, *args])
        else:
            shell = interpreter in _STDIN_SHELLS or Path(interpreter.split()[0]).name in _STDIN_SHELLS
            body = " ".join([interpreter, "-s --" if shell else "-", *args])
    else:
        assert step.command is not None
        body = substitute(step.command, resolve)

    if secrets:
        reads = "; ".join(f"IFS= read -r {secret_env_name(s)}" for s in secrets)
        exports = " ".join(secret_env_name(s) for s in secrets)
        body = f"{reads}; export {exports}; {body}"
    if step.sudo:
        user = f" -u {shlex.quote(step.sudo_user)}" if step.sudo_user else ""
        command = f"sudo -n{user} -- sh -c {shlex.quote(body)}"
    elif secrets:
        command = f"sh -c {shlex.quote(body)}"
    else:
        command = body
    return RenderedStep(step.name, command, tuple(secrets), step.script, step, upload=step.upload)


def plan_task(task: Task, hosts: Sequence[Host], params: BoundParams) -> list[HostPlan]:
    """Render every step of ``task`` for each host, in inventory order."""
    plans = []
    for host in hosts:
        steps = tuple(render_step(task, s, host, params) for s in task.steps)
        on_failure = render_step(task, task.on_failure, host, params) if task.on_failure else None
        plans.append(HostPlan(host, steps, on_failure))
    return plans
