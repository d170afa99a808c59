"""The run view's copy and save keys, as a base class of :class:`~fleetdeck.ui.screens.run.RunScreen`.

Copy goes through `App.copy_to_clipboard` (OSC 52, so it works over SSH and inside tmux) and copies what the
output pane holds: the selected host's tail (from the bridge's ring, so it is current even while the pane
is hidden), or the gathered groups when they are shown. A second key copies the current search match's
line, or else the lines on screen. Save writes the selected host's *full* output, every byte from the
run's files on disk rather than the bounded tail, to a file the operator names
(:func:`~fleetdeck.core.store.export.save_host_output`, in a thread). The bindings are declared with the
screen's others, in :class:`~fleetdeck.ui.screens.run.RunScreen`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.screen import Screen

from fleetdeck.core.runner.service import Engine
from fleetdeck.core.store.export import SavedOutput, default_output_name, save_host_output
from fleetdeck.ui.output_copy import Clip, clip_lines, copy_message, count_text
from fleetdeck.ui.run_bridge import RunView
from fleetdeck.ui.widgets.gathered_view import gathered_lines
from fleetdeck.ui.widgets.host_tail import HostTail
from fleetdeck.ui.widgets.save_output import SaveOutputModal


class RunOutputActions(Screen[None]):
    """Copy and save actions; the run screen supplies the run, the host and the views they read."""

    engine: Engine

    if TYPE_CHECKING:  # supplied by RunScreen; declared here so the actions below type-check

        @property
        def view(self) -> RunView | None:
            """The run shown."""

        @property
        def selected_host(self) -> str | None:
            """The host whose tail is shown."""

        @property
        def showing_gathered(self) -> bool:
            """Whether the gathered groups are shown instead of a host's tail."""

        @property
        def active_tail(self) -> HostTail:
            """Whichever output view is on screen."""

        @property
        def output_visible(self) -> bool:
            """Whether the output pane is on screen."""

    def action_copy_output(self) -> None:
        """Copy what the output pane holds: the selected host's tail, or the gathered groups when shown."""
        view = self.view
        if view is None:
            return
        if self.showing_gathered:
            clip = clip_lines([line.text for line in gathered_lines(view.gatherer)])
            self._copy(clip, copy_message(clip, f"the gathered output of run {view.run_id}"))
            return
        host = view.hosts.get(self.selected_host or "")
        if host is None:
            self.notify("No host selected.", severity="warning")
            return
        lines = [line.text for line in (*host.lines, *host.pending())]
        if not lines:
            self.notify(f"{host.name} has printed nothing yet; nothing was copied.")
            return
        clip = clip_lines(lines)
        message = copy_message(clip, f"{host.name}'s output", not_held=host.first_index)
        if clip.dropped or host.first_index:
            message += f" {self.key_for('run.save', 'Save')} writes all of it to a file."
        self._copy(clip, message)

    def action_copy_line(self) -> None:
        """Copy the current search match's line, or else the lines on screen."""
        if self.view is None:
            return
        if not self.output_visible:
            self.notify(f"The output is not on screen: {self.key_for('run.toggle-pane', 'o')} shows it.")
            return
        log = self.active_tail.log_view
        match = log.current_match
        if match is not None:
            clip = clip_lines([match.text])
            self._copy(clip, f"Copied the matching line ({count_text(clip.size, 'byte')}).")
            return
        clip = clip_lines([line.text for line in log.visible_lines()])
        if not clip.lines:
            self.notify("Nothing on screen to copy.")
            return
        self._copy(clip, f"Copied the {count_text(clip.lines, 'line')} on screen ({count_text(clip.size, 'byte')}).")

    def _copy(self, clip: Clip, message: str) -> None:
        self.app.copy_to_clipboard(clip.text)
        self.notify(message, title="Copied", markup=False)

    def action_save_output(self) -> None:
        """Ask for a path and save the selected host's full output there, from the run's files on disk."""
        view = self.view
        host = None if view is None else view.hosts.get(self.selected_host or "")
        if view is None or host is None:
            self.notify("No host selected.", severity="warning")
            return
        run_id, name = view.run_id, host.name
        store = self.engine.store

        def save(path: Path, overwrite: bool) -> SavedOutput:
            return save_host_output(store, run_id, name, path, overwrite=overwrite)

        def saved(result: SavedOutput | None) -> None:
            if result is None:
                return
            streams = f"stdout {count_text(result.bytes_out, 'byte')}, stderr {count_text(result.bytes_err, 'byte')}"
            so_far = "" if host.finished else " The host was still running: this is its output so far."
            self.notify(
                f"Saved {name}'s output to {result.path} ({count_text(result.size, 'byte')}: {streams}).{so_far}",
                title="Saved",
                markup=False,
            )

        note = "" if host.finished else f"{name} is still running: what it has printed so far is saved."
        modal = SaveOutputModal(
            f"Save the full output of {name} (run {run_id}): stdout and stderr, as they arrived",
            default_output_name(run_id, name),
            save,
            cwd=Path.cwd(),
            note=note,
        )
        self.app.push_screen(modal, saved)

    def key_for(self, binding_id: str, fallback: str) -> str:
        """The key bound to `binding_id` here, as the footer shows it (remapped keys included)."""
        for active in self.active_bindings.values():
            if active.binding.id == binding_id:
                return self.app.get_key_display(active.binding)
        return fallback
