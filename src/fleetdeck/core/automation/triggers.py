"""What started an automatic run, read back from the reason recorded with it.

Automatic runs are stored with ``automatic`` set and a reason written by whoever started them: the
scheduler (``schedule NAME (CRON, due TIME)``) or remediation (``remediation for alert RULE (EXPR) on
HOSTS``, plus `` (approved #ID)`` when someone approved it). Readers of the run store (the console's
history) use :func:`run_trigger` rather than parsing those sentences themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TriggerKind = Literal["schedule", "remediation", "automatic"]

_SCHEDULE = re.compile(r"^schedule (?P<name>.+?) \(")
_REMEDIATION = re.compile(r"^remediation for alert (?P<name>.+?) \(")
_APPROVED = re.compile(r"\(approved #(?P<id>\d+)\)$")


@dataclass(frozen=True, slots=True)
class RunTrigger:
    """Why a run started without a person starting it.

    Attributes:
        kind: ``schedule``, ``remediation``, or ``automatic`` when the reason names neither.
        name: The schedule or the alert rule; empty when unknown.
        approval: The approval request's id, for a remediation someone approved.
    """

    kind: TriggerKind
    name: str = ""
    approval: int | None = None


def run_trigger(automatic: bool, reason: str | None) -> RunTrigger | None:
    """The trigger of a run recorded with ``automatic`` and ``reason``; ``None`` for a run a person started."""
    if not automatic:
        return None
    text = (reason or "").strip()
    if found := _SCHEDULE.match(text):
        return RunTrigger("schedule", found.group("name"))
    if found := _REMEDIATION.match(text):
        approved = _APPROVED.search(text)
        return RunTrigger("remediation", found.group("name"), int(approved.group("id")) if approved else None)
    return RunTrigger("automatic")
