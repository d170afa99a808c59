"""Resolved tasks: ``tasks.toml`` entries checked for meaning, not just shape.

Checks here go beyond the schema: a step runs exactly one of ``command`` or ``script``; placeholders
name declared parameters; scripts exist under the config dir; defaults obey their own rules; secrets
have no default (secrets never live in config files); the default targets are a valid selector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fleetdeck.core.config.schema import ParamEntry, ParamType, StepEntry, TaskEntry, TasksFile
from fleetdeck.core.errors import ConfigIssue, format_key_path
from fleetdeck.core.inventory import Inventory
from fleetdeck.core.selector import SelectorError
from fleetdeck.core.tasks.params import ParamValue, check_value
from fleetdeck.core.tasks.template import HOST_BUILTINS, placeholders

FILE = "tasks.toml"
INTERPRETERS = {".sh": "sh", ".bash": "bash", ".py": "python3", ".pl": "perl", ".rb": "ruby"}


@dataclass(frozen=True, slots=True)
class Param:
    """A typed parameter of a task."""

    name: str
    type: ParamType = "str"
    description: str = ""
    default: ParamValue | None = None
    required: bool = True
    pattern: str | None = None
    choices: tuple[str | int | float | bool, ...] = ()
    min: int | None = None
    max: int | None = None
    raw: bool = False

    def describe(self) -> str:
        """A short human description of what the parameter accepts."""
        if self.type == "choice":
            return "one of: " + ", ".join(str(c) for c in self.choices)
        rules: list[str] = [self.type]
        if self.pattern:
            rules.append(f"matching {self.pattern}")
        if self.min is not None:
            rules.append(f">= {self.min}")
        if self.max is not None:
            rules.append(f"<= {self.max}")
        return " ".join(rules)


@dataclass(frozen=True, slots=True)
class Step:
    """One ordered step; ``script`` is an absolute path to a local file when set."""

    name: str
    command: str | None = None
    script: Path | None = None
    interpreter: str | None = None
    upload: bool = False
    args: tuple[str, ...] = ()
    sudo: bool = False
    sudo_user: str | None = None
    timeout: float | None = None
    no_output_timeout: float | None = None
    retries: int = 0
    retry_delay: float = 5.0
    ignore_errors: bool = False


@dataclass(frozen=True, slots=True)
class Task:
    """A saved task with parameters, steps and rollout settings."""

    name: str
    description: str = ""
    targets: str | None = None
    dangerous: bool = False
    steps: tuple[Step, ...] = ()
    on_failure: Step | None = None
    batches: tuple[int | str, ...] = ()
    max_fail: int | str | None = None
    params: Mapping[str, Param] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """A plain dict for ``fleetdeck tasks --json``."""
        return {
            "name": self.name,
            "description": self.description,
            "targets": self.targets,
            "dangerous": self.dangerous,
            "steps": [s.name for s in self.steps],
            "params": {
                p.name: {
                    "type": p.type,
                    "default": None if p.type == "secret" else p.default,
                    "required": p.required,
                    "description": p.description,
                    **({"choices": list(p.choices)} if p.choices else {}),
                }
                for p in self.params.values()
            },
            "batches": list(self.batches),
            "max_fail": self.max_fail,
            "tags": list(self.tags),
        }


class _Builder:
    def __init__(self, config_dir: Path, inventory: Inventory | None) -> None:
        self.config_dir = config_dir
        self.inventory = inventory
        self.issues: list[ConfigIssue] = []

    def issue(self, path: list[str | int], message: str) -> None:
        self.issues.append(ConfigIssue(FILE, format_key_path(path), message))

    def param(self, path: list[str | int], name: str, entry: ParamEntry) -> Param:
        if name in HOST_BUILTINS or name == "vars":
            self.issue(path, f'"{name}" is a built-in placeholder; choose another parameter name')
        if entry.type == "choice" and not entry.choices:
            self.issue([*path, "choices"], 'a "choice" parameter needs a non-empty choices list')
        if entry.choices is not None and entry.type != "choice":
            self.issue([*path, "choices"], f'choices only apply to type "choice", not "{entry.type}"')
        if entry.pattern is not None and entry.type not in ("str", "secret"):
            self.issue([*path, "pattern"], f'pattern only applies to "str" and "secret", not "{entry.type}"')
        if (entry.min is not None or entry.max is not None) and entry.type != "int":
            self.issue(path, f'min/max only apply to type "int", not "{entry.type}"')
        if entry.type == "secret" and entry.default is not None:
            self.issue(
                [*path, "default"],
                "a secret cannot have a default in a config file; pass it with "
                f"FLEETDECK_SECRET_{name.upper().replace('-', '_')} at run time",
            )
        required = entry.required if entry.required is not None else entry.default is None
        param = Param(
            name=name,
            type=entry.type,
            description=entry.description,
            default=None,
            required=required,
            pattern=entry.pattern,
            choices=tuple(entry.choices or ()),
            min=entry.min,
            max=entry.max,
            raw=entry.raw,
        )
        default: ParamValue | None = None
        if entry.default is not None and entry.type != "secret":
            try:
                default = check_value(param, entry.default)
            except ValueError as exc:
                self.issue([*path, "default"], str(exc))
        return Param(
            name=name,
            type=entry.type,
            description=entry.description,
            default=default,
            required=required,
            pattern=entry.pattern,
            choices=param.choices,
            min=entry.min,
            max=entry.max,
            raw=entry.raw,
        )

    def step(
        self, path: list[str | int], entry: StepEntry | TaskEntry, name: str, params: Mapping[str, Param]
    ) -> Step | None:
        if entry.command is not None and entry.script is not None:
            self.issue(path, 'a step runs either "command" or "script", not both')
            return None
        if entry.command is None and entry.script is None:
            self.issue(path, 'a step needs "command" or "script"')
            return None
        if entry.command is not None and entry.upload:
            self.issue([*path, "upload"], 'upload applies to "script" steps')
        if entry.command is not None and entry.args:
            self.issue([*path, "args"], 'args apply to "script" steps; put them in the command')
        script: Path | None = None
        if entry.script is not None:
            script = self.script_path([*path, "script"], entry.script)
        templates: list[tuple[list[str | int], str]] = []
        if entry.command is not None:
            templates.append(([*path, "command"], entry.command))
        templates.extend(([*path, "args", i], arg) for i, arg in enumerate(entry.args))
        for where, text in templates:
            for ph in placeholders(text):
                if ph.name in HOST_BUILTINS or ph.name.startswith("vars.") or ph.name in params:
                    continue
                known = ", ".join(params) or "none"
                self.issue(
                    where,
                    f"unknown placeholder {{{ph.name}}} (params: {known}; built-ins: "
                    f"{', '.join(HOST_BUILTINS)}, vars.NAME)",
                )
        return Step(
            name=name,
            command=entry.command,
            script=script,
            interpreter=entry.interpreter,
            upload=entry.upload,
            args=tuple(entry.args),
            sudo=bool(entry.sudo),
            sudo_user=entry.sudo_user,
            timeout=entry.timeout,
            no_output_timeout=entry.no_output_timeout,
            retries=entry.retries,
            retry_delay=entry.retry_delay,
            ignore_errors=getattr(entry, "ignore_errors", False),
        )

    def script_path(self, path: list[str | int], text: str) -> Path | None:
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = self.config_dir / candidate
        resolved = candidate.resolve()
        root = self.config_dir.resolve()
        if not resolved.is_relative_to(root):
            self.issue(path, f'script "{text}" is outside the config dir {root}; keep scripts under it')
            return None
        if not resolved.is_file():
            self.issue(path, f'script "{text}" not found (looked for {resolved})')
            return None
        return resolved

    def task(self, name: str, entry: TaskEntry) -> Task:
        base: list[str | int] = ["tasks", name]
        params = {n: self.param([*base, "params", n], n, p) for n, p in entry.params.items()}
        steps: list[Step] = []
        direct = entry.command is not None or entry.script is not None
        if direct and entry.steps:
            self.issue(base, 'use either "command"/"script" or [[steps]], not both')
        elif direct:
            step = self.step(base, entry, "main", params)
            if step is not None:
                steps.append(step)
        elif not entry.steps:
            self.issue(base, 'a task needs "command", "script" or at least one [[steps]] table')
        names: set[str] = set()
        for i, s in enumerate(entry.steps):
            step_name = s.name or f"step{i + 1}"
            if step_name in names:
                self.issue([*base, "steps", i, "name"], f'duplicate step name "{step_name}"')
            names.add(step_name)
            inherited = s.model_copy(
                update={
                    "sudo": s.sudo if s.sudo is not None else entry.sudo,
                    "sudo_user": s.sudo_user or entry.sudo_user,
                    "timeout": s.timeout or entry.timeout,
                    "no_output_timeout": s.no_output_timeout or entry.no_output_timeout,
                }
            )
            step = self.step([*base, "steps", i], inherited, step_name, params)
            if step is not None:
                steps.append(step)
        on_failure = None
        if entry.on_failure is not None:
            on_failure = self.step(
                [*base, "on_failure"], entry.on_failure, entry.on_failure.name or "on_failure", params
            )
        for i, b in enumerate(entry.batches):
            if b == 0:
                self.issue([*base, "batches", i], "a batch needs at least 1 host")
        if entry.targets is not None and self.inventory is not None:
            try:
                self.inventory.select(entry.targets)
            except SelectorError as exc:
                self.issue([*base, "targets"], str(exc))
        return Task(
            name=name,
            description=entry.description,
            targets=entry.targets,
            dangerous=entry.dangerous,
            steps=tuple(steps),
            on_failure=on_failure,
            batches=tuple(entry.batches),
            max_fail=entry.max_fail,
            params=params,
            tags=tuple(entry.tags),
        )


def build_tasks(
    data: TasksFile, config_dir: Path, inventory: Inventory | None
) -> tuple[dict[str, Task], list[ConfigIssue]]:
    """Resolve every task, collecting all problems; targets are checked when an inventory is given."""
    builder = _Builder(config_dir, inventory)
    tasks = {name: builder.task(name, entry) for name, entry in data.tasks.items()}
    return tasks, builder.issues


def script_interpreter(step: Step) -> str:
    """The interpreter for a script step: explicit, else the shebang, else by extension, else ``sh``."""
    if step.interpreter:
        return step.interpreter
    assert step.script is not None
    try:
        with step.script.open("rb") as fh:
            first = fh.readline(256)
    except OSError:
        first = b""
    if first.startswith(b"#!"):
        parts = first[2:].decode(errors="replace").split()
        if parts:
            # The host's PATH finds the interpreter: /usr/local/bin here may be /usr/bin there.
            if Path(parts[0]).name == "env" and len(parts) > 1:
                parts = parts[1:]
            return " ".join([Path(parts[0]).name, *parts[1:]])
    return INTERPRETERS.get(step.script.suffix, "sh")
