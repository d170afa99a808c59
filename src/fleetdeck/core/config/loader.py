"""Read a config directory: parse each TOML file, validate it, resolve it, report every problem at once.

A missing ``hosts.toml`` means the embedded default inventory (this machine, no SSH); a missing
``tasks.toml`` means no saved tasks. Files the loader does not know are ignored, so later features can
add their own files without breaking older ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from fleetdeck.core.config.messages import issues_from_validation
from fleetdeck.core.config.schema import HostEntry, HostsFile, TaskEntry, TasksFile
from fleetdeck.core.errors import ConfigError, ConfigIssue, format_key_path
from fleetdeck.core.inventory import Inventory, build_inventory
from fleetdeck.core.paths import ConfigLocation, find_config_dir
from fleetdeck.core.tasks.model import Task, build_tasks

if TYPE_CHECKING:
    from fleetdeck.core.alerts.rules import AlertsConfig
    from fleetdeck.core.automation.remediation import RemediationConfig
    from fleetdeck.core.automation.schedules import Schedule
    from fleetdeck.core.notify.config import NotifyConfig

HOSTS_FILE = "hosts.toml"
TASKS_FILE = "tasks.toml"
SCHEDULES_FILE = "schedules.toml"
ALERTS_FILE = "alerts.toml"
REMEDIATION_FILE = "remediation.toml"
NOTIFY_FILE = "notify.toml"
AUTOMATION_FILES = (SCHEDULES_FILE, ALERTS_FILE, REMEDIATION_FILE, NOTIFY_FILE)
"""Files only the console, the daemon and the alert, schedule and notify commands read (see `load_config`)."""

Scope = Literal["all", "engine"]
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)$")

try:
    # The same parser as the standard library's tomllib, compiled: about 2x faster on big inventories.
    import tomli as tomllib
except ImportError:  # pragma: no cover - tomli is a dependency; stdlib fallback keeps behaviour identical
    import tomllib  # type: ignore[no-redef]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Automation:
    """What ``schedules.toml``, ``alerts.toml``, ``remediation.toml`` and ``notify.toml`` say."""

    schedules: list[Schedule]
    alerts: AlertsConfig
    remediation: RemediationConfig
    notify: NotifyConfig


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the engine needs from the config dir, validated and resolved.

    ``automation`` is None when only the inventory and tasks were read (``scope="engine"``); the
    properties then give empty settings.
    """

    location: ConfigLocation
    inventory: Inventory
    tasks: dict[str, Task] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    automation: Automation | None = None

    @property
    def dir(self) -> Path:
        """The config directory in use."""
        return self.location.path

    @property
    def scope(self) -> Scope:
        """Which files were read: ``all``, or ``engine`` (inventory and tasks only)."""
        return "all" if self.automation is not None else "engine"

    @property
    def schedules(self) -> list[Schedule]:
        """Scheduled tasks (empty when not read)."""
        return self.automation.schedules if self.automation is not None else []

    @property
    def alerts(self) -> AlertsConfig:
        """Alert rules and their settings (none when not read)."""
        return self.automation.alerts if self.automation is not None else _defaults()[0]

    @property
    def remediation(self) -> RemediationConfig:
        """Remediation guard rails (the defaults when not read)."""
        return self.automation.remediation if self.automation is not None else _defaults()[1]

    @property
    def notify(self) -> NotifyConfig:
        """Notification channels and routes (none when not read)."""
        return self.automation.notify if self.automation is not None else _defaults()[2]


def _defaults() -> tuple[AlertsConfig, RemediationConfig, NotifyConfig]:
    """Empty alert, remediation and notify settings, imported only when needed."""
    from fleetdeck.core.alerts.rules import AlertsConfig
    from fleetdeck.core.automation.remediation import RemediationConfig
    from fleetdeck.core.notify.config import NotifyConfig

    return AlertsConfig(), RemediationConfig(), NotifyConfig()


def read_toml(path: Path, issues: list[ConfigIssue]) -> dict[str, Any] | None:
    """Parse one TOML file; syntax errors become an issue with the file and line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        issues.append(ConfigIssue(path.name, "", f"not valid UTF-8 (byte {exc.start})"))
        return None
    except OSError as exc:
        issues.append(ConfigIssue(path.name, "", f"cannot read {path}: {exc.strerror}"))
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        line = int(match.group(1)) if match else None
        if match:
            message = message[: match.start()].rstrip() + f" (column {match.group(2)})"
        issues.append(ConfigIssue(path.name, "", f"invalid TOML: {message}", line=line))
        return None


def validate(model: type[M], data: dict[str, Any], file: str, issues: list[ConfigIssue]) -> M | None:
    """Validate parsed TOML against a schema model, turning errors into issues."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, file, model))
        return None


def validate_tasks(raw: dict[str, Any], issues: list[ConfigIssue]) -> TasksFile | None:
    """Validate ``tasks.toml`` task by task, so one broken task does not hide the others' problems."""
    entries = raw.get("tasks")
    if not isinstance(entries, dict):
        return validate(TasksFile, raw, TASKS_FILE, issues)
    shell = validate(TasksFile, {**raw, "tasks": {}}, TASKS_FILE, issues)
    good: dict[str, TaskEntry] = {}
    for name, entry in entries.items():
        try:
            good[name] = TaskEntry.model_validate(entry)
        except ValidationError as exc:
            for issue in issues_from_validation(exc, TASKS_FILE, TaskEntry):
                path = format_key_path(["tasks", name]) + (
                    "." + issue.path if issue.path and not issue.path.startswith("[") else issue.path
                )
                issues.append(ConfigIssue(TASKS_FILE, path, issue.message))
    return None if shell is None else TasksFile(tasks=good)


def embedded_hosts() -> HostsFile:
    """The inventory used when a config dir has no ``hosts.toml``: this machine, no SSH."""
    return HostsFile(hosts={"localhost": HostEntry(transport="local", groups=["local"], description="this machine")})


def load_config(config_dir: str | Path | None = None, *, scope: Scope = "all") -> Config:
    """Find, read and validate the config; raise :class:`ConfigError` listing every problem.

    Args:
        config_dir: The directory, or None for the usual search.
        scope: ``all`` reads every file. ``engine`` reads only the inventory and the tasks, for commands that
            run or list things (``exec``, ``run``, ``hosts``, ``history``, ``health``): the alert, schedule,
            remediation and notify modules are not even imported, which takes a third off their start-up,
            and a mistake in those files does not stop an unrelated command (``fleetdeck check`` still
            reports it).
    """
    location = find_config_dir(config_dir)
    root = location.path
    issues: list[ConfigIssue] = []
    if not root.is_dir():
        raise ConfigError([ConfigIssue(str(root), "", f"config directory not found (chosen by {location.origin})")])

    hosts_path = root / HOSTS_FILE
    hosts_data: HostsFile | None = embedded_hosts()
    if hosts_path.exists():
        raw = read_toml(hosts_path, issues)
        hosts_data = validate(HostsFile, raw, HOSTS_FILE, issues) if raw is not None else None

    inventory: Inventory | None = None
    if hosts_data is not None:
        inventory, inv_issues = build_inventory(hosts_data)
        issues.extend(inv_issues)

    tasks: dict[str, Task] = {}
    tasks_path = root / TASKS_FILE
    if tasks_path.exists():
        raw = read_toml(tasks_path, issues)
        tasks_data = validate_tasks(raw, issues) if raw is not None else None
        if tasks_data is not None:
            tasks, task_issues = build_tasks(tasks_data, root, inventory)
            issues.extend(task_issues)

    if scope == "engine":
        if issues or inventory is None:
            raise ConfigError(issues)
        files = tuple(p.name for p in (hosts_path, tasks_path) if p.exists())
        return Config(location, inventory, tasks, files)

    from fleetdeck.core.alerts.rules import load_alerts
    from fleetdeck.core.automation.remediation import load_remediation
    from fleetdeck.core.automation.schedules import load_schedules
    from fleetdeck.core.notify.config import load_notify

    alerts, remediation, notify = _defaults()
    schedules: list[Schedule] = []
    schedules_path = root / SCHEDULES_FILE
    if schedules_path.exists():
        raw = read_toml(schedules_path, issues)
        if raw is not None:
            schedules = load_schedules(raw, tasks, inventory, issues)

    alerts_path = root / ALERTS_FILE
    if alerts_path.exists():
        raw = read_toml(alerts_path, issues)
        if raw is not None:
            alerts = load_alerts(raw, inventory, issues, tasks=tasks)

    remediation_path = root / REMEDIATION_FILE
    if remediation_path.exists():
        raw = read_toml(remediation_path, issues)
        if raw is not None:
            remediation = load_remediation(raw, tasks, issues)

    notify_path = root / NOTIFY_FILE
    if notify_path.exists():
        raw = read_toml(notify_path, issues)
        if raw is not None:
            notify = load_notify(raw, issues)

    if issues or inventory is None:
        raise ConfigError(issues)
    paths = (hosts_path, tasks_path, schedules_path, alerts_path, remediation_path, notify_path)
    files = tuple(p.name for p in paths if p.exists())
    return Config(location, inventory, tasks, files, Automation(schedules, alerts, remediation, notify))
