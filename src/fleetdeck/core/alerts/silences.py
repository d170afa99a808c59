"""Silences: matcher sets with an end time that mute notifications of the alerts they match.

A matcher is ``name=value`` or ``name!=value`` where the value may be a glob (``host=web*``). Names are
an alert's labels: ``rule`` (or ``alertname``), ``host``, ``severity``, ``mount`` and the rule's own
labels; a label an alert lacks matches as the empty string, as in Alertmanager. A silence matches when
all its matchers do. Silenced alerts still change state; they are only marked and not notified.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from fleetdeck.core.alerts.state import iso_time
from fleetdeck.core.errors import UsageError

_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(!=|=)(.*)", re.DOTALL)


class MatcherError(UsageError, ValueError):
    """A silence matcher that does not parse."""


@dataclass(frozen=True, slots=True)
class Matcher:
    """``name=glob`` or ``name!=glob`` over one alert label."""

    name: str
    value: str
    negate: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the alert with ``labels`` passes this matcher."""
        return fnmatchcase(labels.get(self.name, ""), self.value) != self.negate

    def __str__(self) -> str:
        return f"{self.name}{'!=' if self.negate else '='}{self.value}"


def parse_matcher(text: str) -> Matcher:
    """Parse ``rule=HighCPU``, ``host!=db*``, ``team=ops``.

    Raises:
        MatcherError: naming the bad matcher and the expected form.
    """
    match = _MATCHER.fullmatch(text.strip())
    if match is None:
        raise MatcherError(f'bad matcher "{text}": expected NAME=VALUE or NAME!=VALUE, e.g. rule=HighCPU host=web*')
    name, op, value = match.groups()
    return Matcher(name, value.strip(), op == "!=")


def parse_matchers(words: Iterable[str]) -> tuple[Matcher, ...]:
    """Parse every word; at least one matcher, and not only negative ones (that would silence nearly everything)."""
    matchers = tuple(parse_matcher(word) for word in words)
    if not matchers:
        raise MatcherError("a silence needs at least one matcher, e.g. rule=HighCPU host=web01")
    if all(m.negate for m in matchers) or all(m.value.strip("*") == "" for m in matchers if not m.negate):
        raise MatcherError("these matchers would silence every alert; name at least one rule, host or label value")
    return matchers


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence as stored.

    Attributes:
        id: Number shown by ``fleetdeck silence list`` and used by ``silence expire``.
        matchers: All must match an alert's labels.
        starts: Epoch seconds it took effect.
        ends: Epoch seconds it stops (set to the expiry time by ``silence expire``).
        reason: Why, for the next person on call.
        creator: Who made it.
    """

    id: int
    matchers: tuple[Matcher, ...]
    starts: float
    ends: float
    reason: str
    creator: str

    def active(self, now: float) -> bool:
        """Whether the silence is in effect at ``now``."""
        return self.starts <= now < self.ends

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every matcher matches ``labels``."""
        return all(m.matches(labels) for m in self.matchers)

    def to_json(self, now: float) -> dict[str, object]:
        """A JSON-ready dict for ``fleetdeck silence list --json``."""
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts": iso_time(self.starts),
            "ends": iso_time(self.ends),
            "active": self.active(now),
            "reason": self.reason,
            "creator": self.creator,
        }


def is_silenced(labels: Mapping[str, str], silences: Iterable[Silence], now: float) -> bool:
    """Whether any silence in effect at ``now`` matches ``labels``."""
    return any(s.active(now) and s.matches(labels) for s in silences)
