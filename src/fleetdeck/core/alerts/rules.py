"""Alert rules resolved from ``alerts.toml``, and the built-in rules a new user gets without one.

:func:`load_alerts` validates the file rule by rule (one broken rule never hides another's problems),
parses each expression, checks the host selector against the inventory, label names, annotation
templates and the remediation task, then the ``inhibits`` references between rules, and reports every
problem as a ``ConfigIssue`` in the same ``alerts.toml: rules[2].expr: ...`` form as the other config
files, naming the rule by its ``name``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from fleetdeck.core.alerts.expr import Condition, ExprError, parse_expr
from fleetdeck.core.alerts.schema import AlertsFile, RuleEntry, Severity
from fleetdeck.core.alerts.templates import check_template
from fleetdeck.core.config.fields import ScalarValue
from fleetdeck.core.config.messages import issues_from_validation
from fleetdeck.core.errors import ConfigIssue, format_key_path
from fleetdeck.core.selector import SelectorError

if TYPE_CHECKING:
    from fleetdeck.core.inventory import Inventory
    from fleetdeck.core.tasks.model import Task

ALERTS_FILE: Final = "alerts.toml"
RESERVED_LABELS: Final = frozenset({"alertname", "rule", "host", "mount", "severity"})
"""Labels every alert has already; a rule may not set them (``severity`` has its own key)."""

_RULE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FOR_FIELD = re.compile(r"\bfor_\b")


@dataclass(frozen=True, slots=True)
class Remediation:
    """A saved task a rule asks to run on its alerting hosts; another part decides whether and when."""

    task: str
    params: Mapping[str, ScalarValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rule:
    """One resolved rule.

    Attributes:
        name: Unique name, also the ``alertname`` label.
        condition: The parsed expression.
        for_s: How long the condition must hold before the alert fires (pending until then).
        keep_firing_for_s: How long a firing alert stays firing after its condition stops holding.
        clear_below: Hysteresis for ``>``/``>=`` rules: once firing, resolves only below this.
        clear_above: Hysteresis for ``<``/``<=`` rules: once firing, resolves only above this.
        severity: ``warning`` or ``critical``.
        hosts: Host selector the rule applies to; ``None`` for every host.
        labels: Extra labels for routing and silences.
        annotations: Templates (``summary``, ``description``, ``runbook``...), checked at load time.
        inhibits: Names of rules whose alerts this rule's firing alerts mute on the same host (and mount):
            a critical rule names the warning rule about the same problem.
        remediate: Optional saved task to repair the fault.
    """

    name: str
    condition: Condition
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    clear_below: float | None = None
    clear_above: float | None = None
    severity: Severity = "warning"
    hosts: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    inhibits: tuple[str, ...] = ()
    remediate: Remediation | None = None

    @property
    def expr(self) -> str:
        """The expression, normalised."""
        return str(self.condition)

    def holds(self, value: float, firing: bool) -> bool:
        """Whether the condition counts as true for ``value``; a firing alert also holds inside its hysteresis band."""
        if self.condition.holds(value):
            return True
        if not firing:
            return False
        if self.clear_below is not None:
            return value >= self.clear_below
        if self.clear_above is not None:
            return value <= self.clear_above
        return False


@dataclass(frozen=True, slots=True)
class FlapSettings:
    """``changes`` firing/resolved transitions inside ``window_s`` mark an alert as flapping."""

    changes: int = 4
    window_s: float = 600.0


def _default_rules() -> tuple[Rule, ...]:
    return DEFAULT_RULES


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Every rule in force and the flapping settings; ``from_file`` says whether ``alerts.toml`` was read."""

    rules: tuple[Rule, ...] = field(default_factory=_default_rules)
    flapping: FlapSettings = field(default_factory=FlapSettings)
    from_file: bool = False

    def rule(self, name: str) -> Rule | None:
        """The rule called ``name``, if any."""
        return next((r for r in self.rules if r.name == name), None)


def _for_key(path: str, message: str) -> str:
    """Redo the "did you mean" of an unknown key now that the list says ``for`` (``fro`` was too far from ``for_``)."""
    head = "unknown key; allowed keys: "
    if not message.startswith(head):
        return message
    allowed = message.removeprefix(head).split(", ")
    close = difflib.get_close_matches(path.rsplit(".", 1)[-1], allowed, n=1)
    return f'unknown key (did you mean "{close[0]}"?); allowed keys: {", ".join(allowed)}' if close else message


class _Builder:
    """Resolves validated rule entries, collecting issues with rule names attached."""

    def __init__(
        self, file: str, inventory: Inventory | None, tasks: Mapping[str, Task] | None, issues: list[ConfigIssue]
    ) -> None:
        self.file = file
        self.inventory = inventory
        self.tasks = tasks
        self.issues = issues

    def issue(self, index: int, name: str | None, path: Sequence[str | int], message: str) -> None:
        where = format_key_path(["rules", index, *path])
        prefix = f'rule "{name}": ' if name else ""
        self.issues.append(ConfigIssue(self.file, where, prefix + message))

    def entry(self, index: int, raw: Any) -> RuleEntry | None:
        """Validate one ``[[rules]]`` table; its issues get the ``rules[i]`` path and the rule's name."""
        name = raw.get("name") if isinstance(raw, dict) else None
        shown = name if isinstance(name, str) and name else None
        try:
            return RuleEntry.model_validate(raw)
        except ValidationError as exc:
            for found in issues_from_validation(exc, self.file, RuleEntry):
                # The model names the field "for_" because "for" is a keyword; the file says "for".
                path = _FOR_FIELD.sub("for", found.path)
                message = _for_key(path, _FOR_FIELD.sub("for", found.message))
                full = format_key_path(["rules", index]) + ("." + path if path else "")
                prefix = f'rule "{shown}": ' if shown else ""
                self.issues.append(ConfigIssue(self.file, full, prefix + message))
            return None

    def rule(self, index: int, entry: RuleEntry) -> Rule | None:
        name = entry.name
        before = len(self.issues)
        if not _RULE_NAME.fullmatch(name):
            self.issue(index, None, ["name"], f"bad rule name {name!r}: use letters, digits, _, . and -")
        try:
            condition = parse_expr(entry.expr)
        except ExprError as exc:
            self.issue(index, name, ["expr"], str(exc))
            condition = None
        if condition is not None:
            self.hysteresis(index, entry, condition)
        if entry.hosts is not None and self.inventory is not None:
            try:
                self.inventory.select(entry.hosts)
            except SelectorError as exc:
                self.issue(index, name, ["hosts"], str(exc))
        for label in entry.labels:
            if not _LABEL_NAME.fullmatch(label):
                self.issue(index, name, ["labels", label], "label names are letters, digits and _, not first a digit")
            elif label in RESERVED_LABELS:
                hint = ' (use the rule\'s "severity" key)' if label == "severity" else ""
                self.issue(index, name, ["labels", label], f'"{label}" is set by fleetdeck itself{hint}')
        for key, template in entry.annotations.items():
            problem = check_template(template, entry.labels)
            if problem:
                self.issue(index, name, ["annotations", key], problem)
        remediation = self.remediation(index, entry)
        if condition is None or len(self.issues) > before:
            return None
        return Rule(
            name=name,
            condition=condition,
            for_s=entry.for_,
            keep_firing_for_s=entry.keep_firing_for,
            clear_below=entry.clear_below,
            clear_above=entry.clear_above,
            severity=entry.severity,
            hosts=entry.hosts,
            labels=dict(entry.labels),
            annotations=dict(entry.annotations),
            inhibits=tuple(entry.inhibits),
            remediate=remediation,
        )

    def hysteresis(self, index: int, entry: RuleEntry, condition: Condition) -> None:
        name, threshold = entry.name, condition.threshold
        if entry.clear_below is not None and entry.clear_above is not None:
            self.issue(index, name, ["clear_below"], "set clear_below or clear_above, not both")
            return
        if entry.clear_below is not None:
            if not condition.rising:
                self.issue(index, name, ["clear_below"], "clear_below needs a > or >= expression (use clear_above)")
            elif threshold is not None and entry.clear_below > threshold:
                self.issue(
                    index,
                    name,
                    ["clear_below"],
                    f"clear_below {entry.clear_below:g} is above the threshold {threshold:g}",
                )
        if entry.clear_above is not None:
            if not condition.falling:
                self.issue(index, name, ["clear_above"], "clear_above needs a < or <= expression (use clear_below)")
            elif threshold is not None and entry.clear_above < threshold:
                self.issue(
                    index,
                    name,
                    ["clear_above"],
                    f"clear_above {entry.clear_above:g} is below the threshold {threshold:g}",
                )

    def inhibitions(self, rules: Sequence[Rule], where: Mapping[str, int], known: Collection[str]) -> None:
        """Check every ``inhibits`` list of the rules at ``where`` (name → index) against the rules in force.

        ``known`` also holds the names of rules that failed validation, so a reference to one of them is
        not reported a second time. Built-in rules that ``include_defaults`` adds are trusted.
        """
        by_name = {r.name: r for r in rules}
        edges: dict[str, list[str]] = {}
        for rule in rules:
            index = where.get(rule.name)
            edges[rule.name] = []
            for pos, target in enumerate(rule.inhibits):
                found = by_name.get(target)
                if index is None:
                    if found is not None and _same_scope(rule, found):
                        edges[rule.name].append(target)
                    continue
                path: list[str | int] = ["inhibits", pos]
                if target in rule.inhibits[:pos]:
                    self.issue(index, rule.name, path, f'"{target}" is listed twice')
                elif target == rule.name:
                    self.issue(index, rule.name, path, "a rule cannot inhibit itself")
                elif target not in known:
                    close = difflib.get_close_matches(target, sorted(known), n=1)
                    hint = f' (did you mean "{close[0]}"?)' if close else f"; rules: {', '.join(sorted(known))}"
                    self.issue(index, rule.name, path, f'no rule named "{target}"{hint}')
                elif found is not None and not _same_scope(rule, found):
                    self.issue(index, rule.name, path, _scope_problem(rule, found))
                elif found is not None:
                    edges[rule.name].append(target)
        reported: set[frozenset[str]] = set()
        for rule in rules:
            cycle = _cycle(rule.name, edges)
            if cycle is None or frozenset(cycle) in reported:
                continue
            reported.add(frozenset(cycle))
            name = next((n for n in cycle if n in where), None)
            if name is not None:
                loop = " -> ".join([*cycle[cycle.index(name) :], *cycle[: cycle.index(name)], name])
                self.issue(
                    where[name], name, ["inhibits"], f"inhibition cycle {loop}: these alerts would mute each other"
                )

    def remediation(self, index: int, entry: RuleEntry) -> Remediation | None:
        spec = entry.remediate
        if spec is None:
            return None
        if self.tasks is not None:
            task = self.tasks.get(spec.task)
            if task is None:
                known = ", ".join(sorted(self.tasks)) or "none"
                self.issue(index, entry.name, ["remediate", "task"], f'unknown task "{spec.task}" (tasks: {known})')
            else:
                for param in spec.params:
                    if param not in task.params:
                        known = ", ".join(task.params) or "none"
                        self.issue(
                            index,
                            entry.name,
                            ["remediate", "params", param],
                            f'task "{spec.task}" has no parameter "{param}" (its params: {known})',
                        )
        return Remediation(spec.task, dict(spec.params))


def _same_scope(source: Rule, target: Rule) -> bool:
    """Whether alerts of the two rules can share host and mount: both per filesystem, or both per host."""
    return source.condition.is_filesystem == target.condition.is_filesystem


def _scope_problem(source: Rule, target: Rule) -> str:
    fs, host = (source, target) if source.condition.is_filesystem else (target, source)
    return (
        f'"{fs.name}" alerts per filesystem and "{host.name}" per host; a rule inhibits only alerts of the same '
        "host and mount, so both must be per filesystem or both per host"
    )


def _cycle(start: str, edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The rules of an inhibition loop through ``start`` (in order, ``start`` first), if there is one."""
    parents: dict[str, str] = {}
    todo = list(edges.get(start, ()))
    for name in todo:
        parents.setdefault(name, start)
    seen = set(todo)
    while todo:
        name = todo.pop()
        if name == start:
            path = [start]
            step = parents[start]
            while step != start:
                path.insert(1, step)
                step = parents[step]
            return path
        for nxt in edges.get(name, ()):
            if nxt not in seen:
                seen.add(nxt)
                parents[nxt] = name
                todo.append(nxt)
    return None


def load_alerts(
    raw: dict[str, Any],
    inventory: Inventory | None,
    issues: list[ConfigIssue],
    *,
    tasks: Mapping[str, Task] | None = None,
    file: str = ALERTS_FILE,
) -> AlertsConfig:
    """Validate and resolve a parsed ``alerts.toml``, appending every problem to ``issues``.

    Args:
        raw: The parsed TOML document.
        inventory: Checks each rule's ``hosts`` selector when given.
        issues: Where problems go; the returned config holds only the rules that had none.
        tasks: Checks remediation task names and parameters when given.
        file: The file name used in issues.
    """
    entries = raw.get("rules")
    shell_raw = {**raw, "rules": []} if isinstance(entries, list) else raw
    shell: AlertsFile | None = None
    try:
        shell = AlertsFile.model_validate(shell_raw)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, file, AlertsFile))
    builder = _Builder(file, inventory, tasks, issues)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(entries if isinstance(entries, list) else []):
        entry = builder.entry(index, item)
        if entry is None:
            continue
        if entry.name in seen:
            builder.issue(index, entry.name, ["name"], f"duplicate rule name (first used by rules[{seen[entry.name]}])")
            continue
        seen[entry.name] = index
        rule = builder.rule(index, entry)
        if rule is not None:
            rules.append(rule)
    where = {r.name: seen[r.name] for r in rules}
    known = set(seen)
    if shell is not None and shell.include_defaults:
        rules = [r for r in DEFAULT_RULES if r.name not in where] + rules
        known.update(r.name for r in DEFAULT_RULES)
    builder.inhibitions(rules, where, known)
    if shell is None:
        return AlertsConfig(tuple(rules), from_file=True)
    flapping = FlapSettings(shell.flapping.changes, shell.flapping.window)
    return AlertsConfig(tuple(rules), flapping, from_file=True)


def _rule(
    name: str,
    expr: str,
    severity: Severity,
    for_: str,
    summary: str,
    clear_below: float | None = None,
    inhibits: Sequence[str] = (),
) -> dict[str, Any]:
    table: dict[str, Any] = {"name": name, "expr": expr, "for": for_, "severity": severity}
    if clear_below is not None:
        table["clear_below"] = clear_below
    table["annotations"] = {"summary": summary}
    if inhibits:
        table["inhibits"] = list(inhibits)
    return table


DEFAULT_RULES_TOML: Final[tuple[dict[str, Any], ...]] = (
    _rule("HighCPU", "cpu_pct > 85", "warning", "5m", "{host}: CPU {value:.0f}% for 5m", 75),
    _rule("CPUCritical", "cpu_pct > 95", "critical", "10m", "{host}: CPU {value:.0f}% for 10m", 90, ["HighCPU"]),
    _rule("HighMemory", "mem_used_pct > 90", "warning", "5m", "{host}: memory {value:.0f}% used", 85),
    _rule("RootDiskFull", 'disk_used_pct{mount="/"} > 90', "warning", "5m", "{host}: / is {value:.0f}% full", 88),
    _rule(
        "RootDiskCritical",
        'disk_used_pct{mount="/"} > 95',
        "critical",
        "2m",
        "{host}: / is {value:.0f}% full",
        93,
        ["RootDiskFull"],
    ),
    _rule("HighLoad", "load_per_core > 2", "warning", "10m", "{host}: load {value:.1f} per core for 10m", 1.5),
    _rule("HostDown", "host_down", "critical", "1m", "{host} is down"),
    _rule(
        "InodesRunningOut",
        "inodes_used_pct > 90",
        "warning",
        "5m",
        "{host}: {mount} has {value:.0f}% of inodes used",
        88,
    ),
)
"""The built-in rules as ``alerts.toml`` would write them; the bundled sample file repeats them."""


def _build_defaults() -> tuple[Rule, ...]:
    issues: list[ConfigIssue] = []
    builder = _Builder("built-in rules", None, None, issues)
    rules = []
    for index, raw in enumerate(DEFAULT_RULES_TOML):
        entry = builder.entry(index, raw)
        rule = builder.rule(index, entry) if entry is not None else None
        if rule is not None:
            rules.append(rule)
    names = {r.name: i for i, r in enumerate(rules)}
    builder.inhibitions(rules, names, names)
    if issues:  # pragma: no cover - a broken built-in is a bug caught by the tests
        raise RuntimeError("; ".join(str(i) for i in issues))
    return tuple(rules)


DEFAULT_RULES: Final[tuple[Rule, ...]] = _build_defaults()
"""Used when there is no ``alerts.toml``: CPU, memory, root disk, load, inodes and host down."""
