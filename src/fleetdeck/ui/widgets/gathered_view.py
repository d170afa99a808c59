"""The gathered view: hosts with identical output and outcome as one block under a node-set header.

Like `clush -b`, a run over hundreds of hosts reads as a few blocks: ``web[01-17] (rc=0, 17 hosts)`` and the
output they share. Groups come from the run's :class:`~fleetdeck.core.runner.gather.Gatherer`, which the
bridge feeds; the view is rebuilt only when another host finishes, and only while it is on screen. It is a
:class:`~fleetdeck.ui.widgets.host_tail.HostTail`, so search, wrap and scrolling work as in a host's tail.
"""

from __future__ import annotations

from fleetdeck.core.runner.gather import Gatherer, fold_hosts
from fleetdeck.ui.run_bridge import TailLine
from fleetdeck.ui.widgets.host_tail import HostTail

GROUP_LINES = 200
"""Lines of each group's output shown; the rest is one note away (a host's own tail, or the store)."""
VIEW_LINES = 50_000
"""Most lines the view holds; the groups read from the top, so it must hold them all, not a tail."""


def gathered_lines(gatherer: Gatherer, *, group_lines: int = GROUP_LINES) -> list[TailLine]:
    """The gathered view's lines: a header per group, its output, then the hosts still running.

    Args:
        gatherer: The run's gatherer.
        group_lines: Most output lines shown per group.

    Returns:
        Display lines, largest group first.
    """
    lines: list[TailLine] = []
    for group in gatherer.groups():
        if lines:
            lines.append(TailLine(""))
        ok = group.status == "ok" and group.exit_status == 0
        lines.append(TailLine(f"── {group.header} ──", "head" if ok else "head-bad"))
        text = group.text.rstrip("\n")
        body = text.split("\n") if text else []
        for line in body[:group_lines]:
            lines.append(TailLine(line.expandtabs(8)))
        if len(body) > group_lines:
            more = len(body) - group_lines
            lines.append(TailLine(f"… {more} more lines: select one of these hosts to see its tail", "note"))
        if not body:
            lines.append(TailLine("(no output)", "note"))
    if len(lines) > VIEW_LINES - 2:
        cut = len(lines) - (VIEW_LINES - 2)
        lines = lines[: VIEW_LINES - 2]
        lines.append(TailLine(f"… {cut} more lines in smaller groups: select a host to see its tail", "note"))
    pending = gatherer.pending()
    if pending:
        if lines:
            lines.append(TailLine(""))
        lines.append(TailLine(f"still running: {fold_hosts(pending)} ({len(pending)} hosts)", "note"))
    if not lines:
        lines.append(TailLine("no hosts yet", "note"))
    return lines


class GatheredView(HostTail):
    """Groups of identical output, redrawn as hosts finish.

    Args:
        id: Widget id.
        classes: CSS classes.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=VIEW_LINES, id=id, classes=classes)
        self._shown_for: tuple[str, int] | None = None

    def on_mount(self) -> None:
        """Groups read from the top: no follow mode."""
        self.log_view.following = False

    def _show_paused(self) -> None:
        """No "new lines" notice: the groups are rebuilt in place, not appended to."""

    def show_groups(self, run_id: str, gatherer: Gatherer, finished: int) -> None:
        """Rebuild from `gatherer` unless nothing finished since the last call for this run.

        Args:
            run_id: The run shown, so switching runs always rebuilds.
            gatherer: The run's gatherer.
            finished: Hosts finished so far; the view only changes when this does.
        """
        key = (run_id, finished)
        if key == self._shown_for:
            return
        same_run = self._shown_for is not None and self._shown_for[0] == run_id
        self._shown_for = key
        log = self.log_view
        log.load(gathered_lines(gatherer), keep_scroll=same_run)
        query = self.search_input.value
        if query:
            log.search(query)
