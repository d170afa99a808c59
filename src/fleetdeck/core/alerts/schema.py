"""The shape of ``alerts.toml`` as written, as pydantic models that reject unknown keys and coercion.

Like the other config schemas these only check types; :mod:`fleetdeck.core.alerts.rules` then parses
expressions, checks selectors, label names and annotation templates, and builds the resolved rules.
Durations are strings such as ``"30s"``, ``"5m"``, ``"1h"`` or ``"1h30m"``, the way Prometheus writes
them, so a bare number is never mistaken for minutes when seconds were meant.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from fleetdeck.core.config.fields import Scalar, int_between
from fleetdeck.core.config.schema import Strict
from fleetdeck.core.errors import describe_value

Severity = Literal["warning", "critical"]

_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DURATION_WORDS = 'a duration such as "30s", "5m" or "1h"'


def parse_duration(text: str) -> float:
    """Seconds in a duration string: ``"90s"``, ``"5m"``, ``"1h30m"``, ``"1d"``, ``"0s"``.

    Raises:
        ValueError: when the text is not one or more ``<number><unit>`` parts (units ms, s, m, h, d).
    """
    compact = text.strip()
    if not _DURATION.fullmatch(compact):
        raise ValueError(f"expected {DURATION_WORDS}, got {describe_value(text)}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(compact))


def format_duration(seconds: float) -> str:
    """The shortest duration string for ``seconds`` (``300`` → ``"5m"``, ``5400`` → ``"1h30m"``)."""
    if seconds <= 0:
        return "0s"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _duration(allow_zero: bool) -> BeforeValidator:
    def check(value: Any) -> float:
        expected = DURATION_WORDS if allow_zero else DURATION_WORDS + " (more than 0)"
        if isinstance(value, str):
            try:
                seconds = parse_duration(value)
            except ValueError:
                seconds = -1.0
            if seconds > 0 or (allow_zero and seconds == 0):
                return seconds
        raise PydanticCustomError(
            "fleetdeck", "expected {expected}, got {got}", {"expected": expected, "got": describe_value(value)}
        )

    return BeforeValidator(check)


Duration = Annotated[float, _duration(allow_zero=True)]
PositiveDuration = Annotated[float, _duration(allow_zero=False)]


def _rule_names(value: Any) -> Any:
    if isinstance(value, str):
        raise PydanticCustomError(
            "fleetdeck", "expected an array of rule names such as [{example}], got {got}",
            {"example": describe_value(value), "got": describe_value(value)},
        )  # fmt: skip
    return value


RuleNames = Annotated[list[str], BeforeValidator(_rule_names)]


class RemediateEntry(Strict):
    """``remediate = { task = "clean-tmp", params = { path = "/tmp" } }``: a saved task to repair the fault."""

    task: str
    params: dict[str, Scalar] = Field(default_factory=dict)


class RuleEntry(Strict):
    """One ``[[rules]]`` table."""

    name: str
    expr: str
    for_: Duration = Field(0.0, alias="for")
    keep_firing_for: Duration = 0.0
    clear_below: float | None = None
    clear_above: float | None = None
    severity: Severity = "warning"
    hosts: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    inhibits: RuleNames = Field(default_factory=list)
    remediate: RemediateEntry | None = None


class FlappingEntry(Strict):
    """``[flapping]``: this many firing/resolved changes inside ``window`` make an alert flapping."""

    changes: Annotated[int, int_between(2, 1000)] = 4
    window: PositiveDuration = 600.0


class AlertsFile(Strict):
    """``alerts.toml``: rules, and whether the built-in rules apply too."""

    include_defaults: bool = False
    flapping: FlappingEntry = Field(default_factory=FlappingEntry)
    rules: list[RuleEntry] = Field(default_factory=list)
