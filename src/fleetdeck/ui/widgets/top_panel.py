"""The selected host's top processes, fetched on demand and shown in the detail pane.

A process listing costs a `ps` (or a psutil walk) on the host, so it is never part of the periodic
collection: the operator asks with a key, the dashboard fetches in a worker, and this panel shows what is
happening meanwhile (fetching, the list with when it was taken, or why it failed). The table never takes
focus, so the fleet table keeps the keyboard.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from fleetdeck.core.health.top import ProcessInfo, SortKey
from fleetdeck.ui.widgets.health_format import compact_bytes

COMMAND_WIDTH_MAX = 160
"""Longer command lines are cut; the full line is one `fleetdeck top HOST` away."""

_BY = {"cpu": "CPU", "mem": "memory"}


class TopPanel(Vertical):
    """A status line over a table of processes."""

    def compose(self) -> ComposeResult:
        """The status line and the process table."""
        yield Static(id="top-status")
        table: DataTable[str] = DataTable(id="top-table", cursor_type="none", zebra_stripes=True)
        table.can_focus = False
        yield table

    def on_mount(self) -> None:
        """Create the columns once."""
        table = self._table
        for label, key, width in (
            ("pid", "pid", 7),
            ("user", "user", 10),
            ("cpu%", "cpu", 5),
            ("mem%", "mem", 5),
            ("rss", "rss", 5),
            ("command", "command", None),
        ):
            table.add_column(label, key=key, width=width)

    @property
    def _table(self) -> DataTable[str]:
        return self.query_one("#top-table", DataTable)

    def fetching(self, host: str, key: SortKey) -> None:
        """Say a listing is on its way and drop the previous host's rows."""
        self._table.clear()
        self._status(Content.styled(f"top by {_BY[key]} on {host}: fetching…", "$text-muted"))

    def show(self, host: str, key: SortKey, processes: Sequence[ProcessInfo]) -> None:
        """Show a listing."""
        table = self._table
        table.clear()
        for process in processes:
            table.add_row(
                str(process.pid),
                process.user,
                f"{process.cpu_pct:.1f}",
                f"{process.mem_pct:.1f}",
                compact_bytes(process.rss_bytes),
                process.command[:COMMAND_WIDTH_MAX],
            )
        count = f"{len(processes)} processes" if processes else "no processes reported"
        self._status(
            Content.assemble(
                (f"top by {_BY[key]} on {host}", "bold"),
                (f" · {count} · p cpu · m memory · esc closes", "$text-muted"),
            )
        )

    def failed(self, host: str, key: SortKey, reason: str) -> None:
        """Say why the listing could not be read."""
        self._table.clear()
        self._status(Content.styled(f"top by {_BY[key]} on {host} failed: {reason}", "$error"))

    def _status(self, content: Content) -> None:
        self.query_one("#top-status", Static).update(content)
