"""The condition language of alert rules: one metric compared with one number, or the bare ``host_down``.

Deliberately tiny, so a rule reads at a glance and every mistake can be pointed at: ``cpu_pct > 85``,
``disk_used_pct{mount="/"} > 90``, ``load_per_core >= 2``, ``host_down``. Filesystem metrics take
optional ``{mount="..."}``/``{fstype="..."}`` matchers (``=`` or ``!=``, glob values) and are evaluated
once per matching mount; without a matcher they cover every mount. Errors carry the 1-based column of
the offending text so config messages can say exactly where the expression went wrong.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final, Literal

from fleetdeck.core.health.sample import FsUsage, HealthSample
from fleetdeck.core.health.series import metric_value

HOST_DOWN: Final = "host_down"

HOST_METRICS: Final[tuple[str, ...]] = (
    "cpu_pct",
    "cpu_user_pct",
    "cpu_system_pct",
    "cpu_iowait_pct",
    "cpu_steal_pct",
    "mem_used_pct",
    "swap_used_pct",
    "load1",
    "load5",
    "load15",
    "load_per_core",
    "worst_disk_pct",
    "net_rx_bps",
    "net_tx_bps",
    "disk_read_bps",
    "disk_write_bps",
)
"""Metrics with one value per host, named as in :func:`fleetdeck.core.health.series.metric_value`."""

FS_METRICS: Final[tuple[str, ...]] = ("disk_used_pct", "inodes_used_pct")
"""Metrics with one value per mounted filesystem."""

ALIASES: Final[dict[str, str]] = {"cpu": "cpu_pct"}
"""Short names people write anyway (the issue tracker's own examples say ``cpu > 85``)."""

Op = Literal[">", ">=", "<", "<=", "==", "!="]
OPERATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_OPERATOR_WORDS = ">, >=, <, <=, == or !="
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
FsLabel = Literal["mount", "fstype"]
_FS_LABELS: Final[tuple[FsLabel, ...]] = ("mount", "fstype")


class ExprError(ValueError):
    """A rule expression that does not parse; ``column`` is 1-based and also named in the message."""

    def __init__(self, template: str, column: int) -> None:
        self.column = column
        super().__init__(template.replace("{col}", f"column {column}"))


@dataclass(frozen=True, slots=True)
class FsMatcher:
    """``mount="/var*"`` or ``fstype!="tmpfs"``: which filesystems a filesystem rule looks at."""

    label: FsLabel
    value: str
    negate: bool = False

    def matches(self, fs: FsUsage) -> bool:
        """Whether ``fs`` passes this matcher (glob, case-sensitive as mount points are)."""
        actual = fs.mount if self.label == "mount" else fs.fstype
        return fnmatchcase(actual, self.value) != self.negate

    def __str__(self) -> str:
        return f'{self.label}{"!=" if self.negate else "="}"{self.value}"'


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed expression; ``metric`` is canonical (aliases resolved), ``host_down`` has no comparison."""

    metric: str
    op: Op | None = None
    threshold: float | None = None
    matchers: tuple[FsMatcher, ...] = ()

    @property
    def is_host_down(self) -> bool:
        """True for the ``host_down`` condition, which looks at host status instead of a number."""
        return self.metric == HOST_DOWN

    @property
    def is_filesystem(self) -> bool:
        """True when the rule yields one alert per mounted filesystem."""
        return self.metric in FS_METRICS

    @property
    def rising(self) -> bool:
        """True for ``>``/``>=``: the alert is about a value being too high (hysteresis clears below)."""
        return self.op in (">", ">=")

    @property
    def falling(self) -> bool:
        """True for ``<``/``<=``: the alert is about a value being too low (hysteresis clears above)."""
        return self.op in ("<", "<=")

    def holds(self, value: float) -> bool:
        """Compare ``value`` with the threshold; ``host_down`` never holds on a number."""
        if self.op is None or self.threshold is None or math.isnan(value):
            return False
        return OPERATORS[self.op](value, self.threshold)

    def host_value(self, sample: HealthSample) -> float | None:
        """This condition's metric in ``sample``, ``None`` when the sample does not have it."""
        value = metric_value(sample, self.metric)
        return None if value is None or math.isnan(value) else value

    def filesystems(self, sample: HealthSample) -> list[FsUsage]:
        """The filesystems of ``sample`` this condition covers."""
        return [fs for fs in sample.filesystems if all(m.matches(fs) for m in self.matchers)]

    def fs_value(self, fs: FsUsage) -> float | None:
        """This condition's metric for one filesystem."""
        value = fs.used_pct if self.metric == "disk_used_pct" else fs.inodes_used_pct
        return None if value is None or math.isnan(value) else float(value)

    def __str__(self) -> str:
        if self.is_host_down:
            return HOST_DOWN
        labels = "{" + ", ".join(str(m) for m in self.matchers) + "}" if self.matchers else ""
        return f"{self.metric}{labels} {self.op} {_number_text(self.threshold)}"


def _number_text(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else repr(value)


def _found(text: str, index: int) -> str:
    """What is at ``index``, quoted for a message; ``end of expression`` past the end."""
    if index >= len(text):
        return "end of expression"
    match = re.match(r"[A-Za-z0-9_.+-]+|[=<>!]+|\S", text[index:])
    token = match.group(0) if match else text[index]
    return '"' + token[:20] + '"'


class _Parser:
    """Recursive descent over one expression; raises :class:`ExprError` at the first mistake."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str, at: int | None = None) -> ExprError:
        return ExprError(reason, (self.pos if at is None else at) + 1)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def parse(self) -> Condition:
        self.skip_space()
        if self.pos >= len(self.text):
            raise self.fail("empty expression: expected a metric such as cpu_pct > 85, or host_down")
        start = self.pos
        match = _NAME.match(self.text, self.pos)
        if match is None:
            raise self.fail(f"expected a metric name at {{col}}, got {_found(self.text, self.pos)}")
        name = match.group(0)
        self.pos = match.end()
        metric = ALIASES.get(name, name)
        if metric == HOST_DOWN:
            self.skip_space()
            if self.pos < len(self.text):
                raise self.fail(f"host_down stands alone; unexpected {_found(self.text, self.pos)} at {{col}}")
            return Condition(HOST_DOWN)
        if metric not in HOST_METRICS and metric not in FS_METRICS:
            known = [*HOST_METRICS, *FS_METRICS, HOST_DOWN, *ALIASES]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else f"; known metrics: {', '.join(known)}"
            raise self.fail(f'unknown metric "{name}" at {{col}}{hint}', start)
        matchers: tuple[FsMatcher, ...] = ()
        self.skip_space()
        if self.text.startswith("{", self.pos):
            if metric not in FS_METRICS:
                raise self.fail(f"label matchers at {{col}} apply only to filesystem metrics ({', '.join(FS_METRICS)})")
            matchers = self.matchers()
        self.skip_space()
        op = self.operator()
        self.skip_space()
        number = _NUMBER.match(self.text, self.pos)
        if number is None:
            raise self.fail(f"expected a number at {{col}}, got {_found(self.text, self.pos)}")
        threshold = float(number.group(0))
        self.pos = number.end()
        self.skip_space()
        if self.pos < len(self.text):
            raise self.fail(f"unexpected {_found(self.text, self.pos)} at {{col}} after the number")
        return Condition(metric, op, threshold, matchers)

    def operator(self) -> Op:
        for op in OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op  # type: ignore[return-value]  # the keys are exactly the Op literals
        hint = ""
        for typo, meant in (("=>", ">="), ("=<", "<="), ("=", "==")):
            if self.text.startswith(typo, self.pos):
                hint = f' (did you mean "{meant}"?)'
                break
        raise self.fail(f"expected a comparison {_OPERATOR_WORDS} at {{col}}, got {_found(self.text, self.pos)}{hint}")

    def matchers(self) -> tuple[FsMatcher, ...]:
        brace = self.pos
        self.pos += 1
        found: list[FsMatcher] = []
        while True:
            self.skip_space()
            if self.text.startswith("}", self.pos) and not found:
                raise self.fail('empty matcher {} at {col}: write {mount="/"} or leave the braces out', brace)
            start = self.pos
            match = _NAME.match(self.text, self.pos)
            if match is None:
                raise self.fail(f"expected a label (mount or fstype) at {{col}}, got {_found(self.text, self.pos)}")
            label = match.group(0)
            if label not in _FS_LABELS:
                raise self.fail(f'unknown label "{label}" at {{col}}; filesystem metrics have mount and fstype', start)
            self.pos = match.end()
            self.skip_space()
            if self.text.startswith("!=", self.pos):
                negate, self.pos = True, self.pos + 2
            elif self.text.startswith("=", self.pos) and not self.text.startswith("==", self.pos):
                negate, self.pos = False, self.pos + 1
            else:
                raise self.fail(f"expected = or != at {{col}}, got {_found(self.text, self.pos)}")
            self.skip_space()
            value = self.string()
            found.append(FsMatcher("mount" if label == "mount" else "fstype", value, negate))
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return tuple(found)
            raise self.fail(f"expected , or }} at {{col}}, got {_found(self.text, self.pos)}")

    def string(self) -> str:
        quote = self.text[self.pos : self.pos + 1]
        if quote not in ('"', "'"):
            raise self.fail(f"expected a quoted value at {{col}}, got {_found(self.text, self.pos)}")
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise self.fail("unterminated string starting at {col}")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value


def parse_expr(text: str) -> Condition:
    """Parse a rule expression.

    Raises:
        ExprError: naming what was expected, what was found and the column.
    """
    return _Parser(text).parse()
