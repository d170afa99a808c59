"""The task picker on a real engine with the bundled configs: search, form validation, targets, dry run, runs."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from test_run_support import CONFIGS, NOW, ScreenHarness, make_engine, no_blink, until
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from fleetdeck.core.health import HealthSample
from fleetdeck.core.tasks.model import Task
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.run import RunScreen
from fleetdeck.ui.screens.tasks import TasksScreen, rank_tasks
from fleetdeck.ui.widgets.command_box import CommandBox, command_box
from fleetdeck.ui.widgets.confirm import TypeToConfirmModal
from fleetdeck.ui.widgets.param_form import ParamForm
from fleetdeck.ui.widgets.target_matches import TargetMatches


def tasks_screen(pilot: Pilot[Any]) -> TasksScreen:
    screen = pilot.app.screen
    assert isinstance(screen, TasksScreen)
    return screen


def preview(pilot: Pilot[Any]) -> str:
    return str(tasks_screen(pilot).query_one("#task-preview", Static).render())


def form(pilot: Pilot[Any]) -> ParamForm:
    found = tasks_screen(pilot).form
    assert found is not None
    return found


def error_line(pilot: Pilot[Any], index: int) -> str:
    return str(form(pilot).query_one(f"#param-{index}-error", Static).render())


def test_fuzzy_ranking_prefers_names_then_descriptions() -> None:
    tasks = [
        Task("disk-usage", "Disk usage of one mount point"),
        Task("top-memory", "Processes using the most memory"),
        Task("backup-dir", "Archive a directory to a dated tarball"),
        Task("kernel-errors", "Kernel messages", tags=("logs",)),
    ]
    assert next(t.name for t in rank_tasks("dsk", tasks)) == "disk-usage"
    assert next(t.name for t in rank_tasks("memory", tasks)) == "top-memory"
    assert [t.name for t in rank_tasks("tarball", tasks)] == ["backup-dir"]
    assert [t.name for t in rank_tasks("logs", tasks)] == ["kernel-errors"]
    assert rank_tasks("", tasks) == tasks
    assert rank_tasks("zzzz", tasks) == []


async def test_search_picks_a_task_and_its_form_and_preview_follow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    app = ScreenHarness(lambda: TasksScreen(engine, RunBridge(), env={}))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TasksScreen))
        screen = tasks_screen(pilot)
        options = screen.query_one("#task-list", OptionList)
        assert options.option_count == len(engine.config.tasks)

        await pilot.press(*"top mem")
        assert options.get_option_at_index(0).id == "top-memory"
        await pilot.press("enter")
        await until(pilot, lambda: screen.chosen is not None and screen.chosen.name == "top-memory")
        await until(pilot, lambda: isinstance(app.focused, Input) and app.focused.id == "param-0")
        await until(pilot, lambda: "ps -eo pid,user,rss,pcpu,comm --sort=-rss | head -n 10" in preview(pilot))
        assert screen.query_one(TargetMatches).hosts == ["localhost"]

        await pilot.press("escape")  # back to the list
        assert app.focused is options
        await pilot.press("down")
        await until(pilot, lambda: screen.chosen is not None and screen.chosen.name != "top-memory")
    await engine.close()


async def test_parameters_are_checked_inline_with_the_engine_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    app = ScreenHarness(lambda: TasksScreen(engine, bridge, task="service-status", env={}))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: tasks_screen(pilot).form is not None)
        params = form(pilot)
        assert params.errors() == {"service": "required: str matching ^[A-Za-z0-9@._-]+$"}
        assert error_line(pilot, 0) == ""  # not touched yet: no red before the user typed

        await pilot.press("ctrl+r")  # running shows every problem and does not start anything
        assert error_line(pilot, 0) == "✘ required: str matching ^[A-Za-z0-9@._-]+$"
        assert not bridge.runs
        assert app.focused is params.query_one("#param-0")

        params.set_value("service", "nginx; rm -rf /")
        await pilot.pause()
        assert error_line(pilot, 0) == '✘ "nginx; rm -rf /" does not match pattern ^[A-Za-z0-9@._-]+$'
        params.set_value("lines", "5000")
        await pilot.pause()
        assert error_line(pilot, 1) == "✘ 5000 is above the maximum 1000"
        params.set_value("lines", "ten")
        await pilot.pause()
        assert error_line(pilot, 1) == '✘ expected an integer, got "ten"'
        await until(pilot, lambda: preview(pilot) == "Fix the parameters marked above to see the commands.")

        params.set_value("service", "sshd")
        params.set_value("lines", "3")
        await until(pilot, lambda: "systemctl status --no-pager --lines=3 sshd" in preview(pilot))
        assert params.errors() == {}
        assert params.values() == {"service": "sshd", "lines": "3"}
    await engine.close()


async def test_targets_resolve_live_and_errors_show_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    health = {"localhost": HealthSample("localhost", NOW, "down", reason="no answer")}
    app = ScreenHarness(lambda: TasksScreen(engine, RunBridge(), marked=["localhost"], health=health, env={}))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: tasks_screen(pilot).form is not None)
        screen = tasks_screen(pilot)
        targets = screen.query_one("#task-targets", Input)
        matches = screen.query_one(TargetMatches)
        assert targets.value == "localhost"  # the marked hosts win over the task's own targets
        assert matches.hosts == ["localhost"] and matches.unhealthy == ["localhost"]
        assert "localhost (down)" in str(matches.render())

        targets.value = "@nosuchgroup"
        await pilot.pause()
        assert matches.hosts == [] and matches.error is not None and "nosuchgroup" in matches.error
        await until(pilot, lambda: preview(pilot).startswith("✘") and "nosuchgroup" in preview(pilot))
    await engine.close()


async def test_run_starts_and_opens_the_run_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    app = ScreenHarness(lambda: TasksScreen(engine, bridge, task="disk-usage", env={}))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: tasks_screen(pilot).form is not None)
        await until(pilot, lambda: "df -hP /" in preview(pilot))
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        view = next(iter(bridge.runs.values()))
        assert view.task == "disk-usage" and view.selector == "all"
        await until(pilot, lambda: view.done)
        assert view.hosts["localhost"].status == "ok"
        await pilot.press("escape")  # the run view closes; the picker is where it was
        await until(pilot, lambda: isinstance(app.screen, TasksScreen))
    await engine.close()


def dangerous_config(tmp_path: Path) -> Path:
    """The bundled hosts with one harmless task marked dangerous."""
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(CONFIGS / "hosts.toml", config / "hosts.toml")
    (config / "tasks.toml").write_text(
        "[tasks.restart-app]\n"
        'description = "Restart the app (pretend)"\n'
        'targets = "all"\n'
        "dangerous = true\n"
        'command = "echo restarting {service}"\n'
        'params.service = { type = "choice", choices = ["nginx", "app"], default = "app" }\n'
    )
    return config


async def test_a_dangerous_task_runs_only_after_its_name_is_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(tmp_path, monkeypatch, dangerous_config(tmp_path))
    bridge = RunBridge()
    app = ScreenHarness(lambda: TasksScreen(engine, bridge, env={}))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: tasks_screen(pilot).form is not None)
        await until(pilot, lambda: "echo restarting app" in preview(pilot))

        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, TypeToConfirmModal))
        await pilot.press(*"restart", "enter")  # not the whole name: refused, still asking
        await pilot.pause()
        assert isinstance(app.screen, TypeToConfirmModal) and not bridge.runs
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TasksScreen))
        assert not bridge.runs

        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, TypeToConfirmModal))
        await pilot.press(*"restart-app", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        view = next(iter(bridge.runs.values()))
        await until(pilot, lambda: view.done)
        assert view.hosts["localhost"].lines[0].text == "restarting app"
    await engine.close()


async def test_the_command_box_runs_a_one_off_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    app = ScreenHarness(lambda: TasksScreen(engine, bridge, env={}))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: tasks_screen(pilot).form is not None)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, CommandBox))
        box = app.screen
        box.query_one("#command-targets", Input).value = "nosuch"
        await pilot.press(*"echo hi", "enter")
        await pilot.pause()
        assert isinstance(app.screen, CommandBox)
        assert "nosuch" in str(box.query_one("#command-error", Static).render())

        box.query_one("#command-targets", Input).value = "localhost"
        box.query_one("#command-timeout", Input).value = "20"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        view = next(iter(bridge.runs.values()))
        assert (view.task, view.command, view.selector) == ("exec", "echo hi", "localhost")
        await until(pilot, lambda: view.done)
        assert view.hosts["localhost"].lines[0].text == "hi"
        assert view.prepared is not None and view.prepared.plans[0].steps[0].step.timeout == 20
    await engine.close()


async def test_the_command_box_opens_again_empty_and_is_built_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(tmp_path, monkeypatch)
    bridge = RunBridge()
    app = ScreenHarness(lambda: TasksScreen(engine, bridge, env={}))
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: tasks_screen(pilot).form is not None)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, CommandBox))
        box = app.screen
        targets = box.query_one("#command-targets", Input).value
        box.query_one("#command-targets", Input).value = "nosuch"
        box.query_one("#command-timeout", Input).value = "7"
        await pilot.press(*"echo one", "enter")
        await pilot.pause()
        assert "nosuch" in str(box.query_one("#command-error", Static).render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TasksScreen))

        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, CommandBox))
        assert app.screen is box  # the same box, emptied
        await pilot.pause()
        values = [box.query_one(f"#command-{name}", Input).value for name in ("text", "targets", "timeout")]
        assert values == ["", targets, ""]
        assert str(box.query_one("#command-error", Static).render()) == ""
        assert box.query_one("#command-text", Input).has_focus
        assert "localhost" in str(box.query_one(TargetMatches).render())

        await pilot.press(*"echo two", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        view = next(iter(bridge.runs.values()))
        await until(pilot, lambda: view.done)
        assert (view.command, view.hosts["localhost"].lines[0].text) == ("echo two", "two")

        other = make_engine(tmp_path / "other", monkeypatch)
        assert command_box(app, other) is not box  # another engine gets its own box
        assert command_box(app, other) is command_box(app, other)
        await other.close()
    await engine.close()


SNAPSHOT_TASKS = """
[tasks.disk-usage]
description = "Disk usage of one mount point"
targets = "all"
command = "df -hP {mount}"
params.mount = { type = "str", default = "/", pattern = "^/", description = "mount point to report" }

[tasks.top-memory]
description = "Processes using the most memory"
targets = "all"
command = "ps -eo pid,user,rss,pcpu,comm --sort=-rss | head -n {count}"
params.count = { type = "int", default = 10, min = 1, max = 200 }

[tasks.backup-dir]
description = "Archive a directory to a dated tarball and prune old ones"
targets = "all"
params.source = { type = "str", pattern = "^/", description = "directory to back up" }
params.dest = { type = "str", default = "/var/backups/fleetdeck", pattern = "^/", description = "where archives go" }
params.keep = { type = "int", default = 7, min = 1, max = 365, description = "archives to keep per source" }

[[tasks.backup-dir.steps]]
name = "archive"
script = "scripts/backup-dir.sh"
args = ["{source}", "{dest}", "{keep}"]

[[tasks.backup-dir.steps]]
name = "list"
command = "ls -lh {dest}"

[tasks.rolling-restart]
description = "Restart a service, a batch at a time, and check it came back"
targets = "all"
dangerous = true
batches = [1, "25%", "100%"]
command = "systemctl restart {service}"
params.service = { type = "choice", choices = ["nginx", "app"] }
"""


async def test_each_parameter_type_gets_its_widget_and_secrets_stay_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(CONFIGS / "hosts.toml", config / "hosts.toml")
    (config / "tasks.toml").write_text(
        "[tasks.deploy]\n"
        'targets = "all"\n'
        'command = "deploy {version} {replicas} {dry} {env} {token}"\n'
        'params.version = { type = "str", pattern = "^v[0-9.]+$" }\n'
        'params.replicas = { type = "int", default = 2, min = 1, max = 9 }\n'
        'params.dry = { type = "bool", default = true }\n'
        'params.env = { type = "choice", choices = ["staging", "prod"] }\n'
        'params.token = { type = "secret" }\n'
    )
    engine = make_engine(tmp_path, monkeypatch, config)
    app = ScreenHarness(lambda: TasksScreen(engine, RunBridge(), env={}))
    async with app.run_test(size=(120, 50)) as pilot:
        await until(pilot, lambda: tasks_screen(pilot).form is not None)
        params = form(pilot)
        await until(pilot, lambda: params.is_mounted)
        kinds = {name: type(params.query_one(f"#param-{i}")).__name__ for i, name in enumerate(params.spec.params)}
        assert kinds == {"version": "Input", "replicas": "Input", "dry": "Switch", "env": "Select", "token": "Input"}
        assert params.query_one("#param-4", Input).password
        assert set(params.errors()) == {"version", "env", "token"}

        params.set_value("version", "v1.2")
        params.set_value("env", "prod")
        params.set_value("token", "s3cret-value")
        params.set_value("dry", "false")
        await until(pilot, lambda: "deploy v1.2 2 false prod" in preview(pilot))
        assert params.values() == {
            "version": "v1.2",
            "replicas": "2",
            "dry": "false",
            "env": "prod",
            "token": "s3cret-value",
        }
        assert "s3cret-value" not in preview(pilot)
        assert '"$FLEETDECK_SECRET_TOKEN"' in preview(pilot)
    await engine.close()


def test_tasks_screen_snapshot(
    snap_compare: Callable[..., bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"  # a fixed task list, so the picture changes only when the screen does
    config.mkdir()
    shutil.copy(CONFIGS / "hosts.toml", config / "hosts.toml")
    shutil.copytree(CONFIGS / "scripts", config / "scripts")
    (config / "tasks.toml").write_text(SNAPSHOT_TASKS)
    engine = make_engine(tmp_path, monkeypatch, config)
    app = ScreenHarness(lambda: TasksScreen(engine, RunBridge(), task="backup-dir", env={}))

    async def settle(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: tasks_screen(pilot).form is not None)
        params = form(pilot)
        params.set_value("source", "etc")
        await until(pilot, lambda: "Fix the parameters" in preview(pilot))
        no_blink(pilot)
        await pilot.pause()

    run_before: Callable[[Pilot[Any]], Awaitable[None]] = settle
    assert snap_compare(app, terminal_size=(120, 35), run_before=run_before)
