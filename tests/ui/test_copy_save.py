"""Copy and save in the run view: the clipboard gets what the pane holds, the file gets every stored byte."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_run_support import NOW, ScreenHarness, canned_run, feed, finished_run, make_engine, until
from textual.pilot import Pilot
from textual.screen import Screen

from fleetdeck.core.runner.events import HostFinished, Output, RunEvent, RunFinished, RunStarted
from fleetdeck.core.runner.service import Engine
from fleetdeck.core.store import RunStore, StoreSink
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.history import HistoryScreen
from fleetdeck.ui.screens.run import RunScreen, open_run
from fleetdeck.ui.widgets.confirm import ConfirmModal
from fleetdeck.ui.widgets.run_hosts import RunHostTable
from fleetdeck.ui.widgets.save_output import SaveOutputModal

COMMAND = "echo one; sleep 0.2; echo 'two on stderr' >&2; sleep 0.2; printf 'three\\tno newline'"
OUTPUT = b"one\ntwo on stderr\nthree\tno newline"


def notes(app: Any) -> str:
    return "\n".join(str(note.message) for note in app._notifications)


def run_screen(pilot: Pilot[Any]) -> RunScreen:
    screen = pilot.app.screen
    assert isinstance(screen, RunScreen)
    return screen


def stored_bytes(engine: Engine, run_id: str, host: str) -> bytes:
    return b"".join(data for _, data in engine.store.iter_output(run_id, host))


async def save_modal(pilot: Pilot[Any]) -> SaveOutputModal:
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(pilot.app.screen, SaveOutputModal))
    modal = pilot.app.screen
    assert isinstance(modal, SaveOutputModal)
    return modal


async def set_path(pilot: Pilot[Any], modal: SaveOutputModal, path: str) -> None:
    modal.path_input.value = path
    await pilot.pause()


async def test_copy_and_save_a_live_runs_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    app = ScreenHarness(Screen)
    async with app.run_test(size=(120, 35)) as pilot:
        prepared = engine.prepare_command(COMMAND, "localhost", run_id=engine.new_run_id())
        run_id = prepared.request.run_id
        open_run(app, engine, bridge, prepared)
        screen = run_screen(pilot)
        view = bridge.run(run_id)
        await until(pilot, lambda: view.done and screen.tail.seen == view.hosts["localhost"].total_lines)

        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == "one\ntwo on stderr\nthree   no newline\n"  # as shown: tabs expanded
        assert "Copied 3 lines (37 bytes) of localhost's output." in notes(app)

        modal = await save_modal(pilot)
        default = tmp_path / f"{run_id}-localhost.log"
        assert modal.path_input.value == f"./{default.name}"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert default.read_bytes() == OUTPUT == stored_bytes(engine, run_id, "localhost")
        assert (
            f"Saved localhost's output to {default} ({len(OUTPUT)} bytes: stdout 20 bytes, stderr 14 bytes)"
            in notes(app)
        )

        # Saving again over the same file asks first; "no" leaves the file and keeps the prompt open.
        default.write_bytes(b"edited by hand")
        modal = await save_modal(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is modal and not modal.saving)
        assert default.read_bytes() == b"edited by hand"
        assert "exists and was left as it is" in modal.message

        # A directory that does not exist is an error in the prompt, which stays open to fix the path.
        await set_path(pilot, modal, "no/such/dir/out.log")
        await pilot.press("enter")
        await until(pilot, lambda: "does not exist" in modal.message)
        assert app.screen is modal and not (tmp_path / "no").exists()

        # Back to the existing file, and this time replace it.
        await set_path(pilot, modal, f"./{default.name}")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert default.read_bytes() == OUTPUT

        # A directory gets the default name inside it; Esc cancels without writing.
        (tmp_path / "logs").mkdir()
        modal = await save_modal(pilot)
        await set_path(pilot, modal, "logs")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert (tmp_path / "logs" / default.name).read_bytes() == OUTPUT
        modal = await save_modal(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
    await engine.close()


def long_run(run_id: str, lines: int) -> Iterator[RunEvent]:
    yield RunStarted(run_id, "exec", "web1", ("web1",), command="seq", time=NOW)
    for start in range(0, lines, 1000):
        chunk = "".join(f"{n}\n" for n in range(start + 1, min(lines, start + 1000) + 1))
        yield Output(run_id, "web1", "stdout", chunk.encode(), "exec", time=NOW)
        yield Output(run_id, "web1", "stderr", f"progress {start}\n".encode(), "exec", time=NOW)
    yield HostFinished(run_id, "web1", "ok", 0, 1.0, step="exec", time=NOW + 1)
    yield RunFinished(run_id, {"ok": 1}, 0, 1.0, time=NOW + 1)


async def test_history_copies_the_tail_but_saves_every_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine(tmp_path, monkeypatch)
    store = RunStore(engine.state)
    sink = StoreSink(store)
    for event in long_run("r-long", 12_000):
        sink.handle(event)
    sink.close()
    store.close()
    full = stored_bytes(engine, "r-long", "web1")
    assert full.count(b"\n") == 12_012

    app = ScreenHarness(lambda: HistoryScreen(engine))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        await until(pilot, lambda: screen.tail.log_view.line_count > 0)
        host = screen.bridge.run("r-long").hosts["web1"]

        await pilot.press("c")
        await pilot.pause()
        copied = app.clipboard.splitlines()
        assert len(copied) == host.line_count < 12_012  # the console's ring, not the file
        assert copied[-2:] == ["12000", "progress 11000"]
        message = notes(app)
        assert f"Copied {host.line_count:,} lines" in message
        assert f"{12_012 - host.line_count:,} earlier lines the console no longer holds" in message
        assert "^s writes all of it to a file" in message

        await save_modal(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert (tmp_path / "r-long-web1.log").read_bytes() == full
    await engine.close()


async def test_copy_line_takes_the_search_match_or_the_screen_and_c_the_gathered_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = RunBridge()
    feed(bridge, canned_run("r1"))
    for n in range(100):
        bridge.handle(Output("r1", "db02", "stdout", f"line {n}{' ERROR here' if n == 42 else ''}\n".encode(), "main"))
    rest = list(finished_run("r1"))[len(list(canned_run("r1"))) :]
    feed(bridge, iter(rest))
    engine = make_engine(tmp_path, monkeypatch)
    app = ScreenHarness(lambda: RunScreen(engine, bridge, clock=lambda: NOW))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = run_screen(pilot)
        screen.query_one(RunHostTable).select("db02")
        await until(pilot, lambda: screen.selected_host == "db02" and screen.tail.log_view.line_count > 100)

        await pilot.press("C")  # no search: the lines on screen, which follow the end of the output
        await pilot.pause()
        shown = app.clipboard.splitlines()
        assert shown[-1] == "/dev/sda1        50G   21G   27G  44% /"
        assert 10 < len(shown) < 40
        assert f"Copied the {len(shown)} lines on screen" in notes(app)

        await pilot.press("slash", *"error", "enter")
        await pilot.press("C")
        await pilot.pause()
        assert app.clipboard == "line 42 ERROR here\n"
        assert "Copied the matching line (19 bytes)." in notes(app)

        await pilot.press("escape", "v", "c")
        await pilot.pause()
        assert app.clipboard.startswith("── db01,web[01-02] (rc=0, 3 hosts) ──\nFilesystem ")
        assert "\n── db02 (rc=0, 1 host) ──\n" in app.clipboard
        assert "df: /: Input/output error\n" in app.clipboard
        assert "of the gathered output of run r1" in notes(app)
    await engine.close()
