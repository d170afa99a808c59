"""The run's summary line: hosts by outcome, the batch in progress, and how the run stands.

Always on screen above the split, so the operator sees `ok · failed · timeout · unreachable · running ·
queued` and `batch k/n` whichever host or view is selected. The text is built by :func:`summary_parts`, a
plain function of the bridge's :class:`~fleetdeck.ui.run_bridge.RunView`, and the widget only colours the
parts through component classes.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from fleetdeck.ui.run_bridge import RunView
from fleetdeck.ui.widgets.run_hosts import short_duration

_ORDER = ("ok", "failed", "timeout", "unreachable", "running", "queued")
_STYLE = {
    "ok": "ok",
    "failed": "bad",
    "timeout": "warn",
    "unreachable": "down",
    "running": "active",
    "queued": "muted",
    "cancelled": "muted",
}


def summary_parts(view: RunView) -> list[tuple[str, str]]:
    """The summary as (text, style name) parts; a style name is empty for plain text.

    Counts that are zero keep their place (in the muted style), so the line never jumps about.
    """
    counts = view.counts()
    values = {
        "ok": counts.ok,
        "failed": counts.failed,
        "timeout": counts.timeout,
        "unreachable": counts.unreachable,
        "running": counts.running,
        "queued": counts.queued,
        "cancelled": counts.cancelled,
    }
    parts: list[tuple[str, str]] = []
    shown = [*_ORDER, "cancelled"] if counts.cancelled else list(_ORDER)
    for name in shown:
        parts.append((f"{name} {values[name]}", _STYLE[name] if values[name] else "muted"))
    parts.append((f"batch {view.current_batch}/{view.batches_total}", ""))
    finished = view.finished
    if finished is None:
        parts.append(("running", "active"))
    else:
        state = "cancelled" if finished.cancelled else "halted" if finished.halted else "done"
        bad = finished.cancelled or finished.halted or finished.exit_code != 0
        parts.append((f"{state} in {short_duration(finished.duration_s)}", "bad" if bad else "ok"))
    return parts


def summary_text(view: RunView) -> str:
    """The summary as plain text, e.g. ``ok 3 · failed 1 · … · batch 1/1 · done in 2.1s``."""
    return " · ".join(text for text, _ in summary_parts(view))


class RunSummaryBar(Static):
    """One line of counts for the run shown."""

    COMPONENT_CLASSES = {
        "run-summary--ok",
        "run-summary--bad",
        "run-summary--warn",
        "run-summary--down",
        "run-summary--active",
        "run-summary--muted",
    }

    DEFAULT_CSS = """
    RunSummaryBar { height: 1; padding: 0 1; background: $panel; }
    RunSummaryBar > .run-summary--ok { color: $health-ok; }
    RunSummaryBar > .run-summary--bad { color: $health-crit; text-style: bold; }
    RunSummaryBar > .run-summary--warn { color: $health-warn; }
    RunSummaryBar > .run-summary--down { color: $host-down; }
    RunSummaryBar > .run-summary--active { color: $primary; }
    RunSummaryBar > .run-summary--muted { color: $muted; }
    """

    _shown: list[tuple[str, str]] | None = None

    def show(self, view: RunView) -> None:
        """Redraw for `view`, if anything changed (a redraw of a one-line widget never needs a layout)."""
        parts = summary_parts(view)
        if parts == self._shown:
            return
        self._shown = parts
        text = Text()
        for index, (part, style) in enumerate(parts):
            if index:
                text.append(" · ", style=self._style("muted"))
            text.append(part, style=self._style(style) if style else Style())
        self.update(text, layout=False)

    def restyle(self, view: RunView) -> None:
        """Redraw even if the text is the same (the theme changed)."""
        self._shown = None
        self.show(view)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"run-summary--{name}", partial=True)
