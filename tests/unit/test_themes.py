"""Theme files: every bundled theme loads with fleetdeck's semantic variables; broken files fall back."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.color import Color
from textual.message import Message
from textual.notifications import Notify

from fleetdeck.core.health.board import HealthBoard
from fleetdeck.core.inventory import Inventory
from fleetdeck.core.paths import bundled_themes_dir
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.context import ConsoleContext
from fleetdeck.ui.themes import (
    DEFAULT_THEME,
    SEMANTIC_VARIABLES,
    ThemeFileError,
    load_theme_file,
    load_themes,
)

BUNDLED = ("ansi", "fleetdeck-dark", "fleetdeck-light", "high-contrast")
GOOD_THEME = """
name = "mine"
dark = true
[colors]
primary = "#336699"
success = "#00aa00"
"""


def no_hosts() -> ConsoleContext:
    """A console with nothing to watch: these tests only care about themes."""
    return ConsoleContext(inventory=Inventory([], {}), board=HealthBoard())


def test_bundled_dir_is_the_checkout_themes_dir() -> None:
    assert bundled_themes_dir() == Path(__file__).resolve().parents[2] / "themes"


def test_every_bundled_theme_loads_and_sets_every_semantic_variable() -> None:
    loaded = load_themes(bundled_themes_dir())

    assert loaded.errors == []
    assert sorted(loaded.themes) == sorted(BUNDLED)
    assert DEFAULT_THEME in loaded.themes
    for path in sorted(bundled_themes_dir().glob("*.toml")):
        declared = tomllib.loads(path.read_text(encoding="utf-8"))["variables"]
        missing = [name for name in SEMANTIC_VARIABLES if name not in declared]
        assert not missing, f"{path.name} does not set {missing}"
        theme = load_theme_file(path)
        for name in SEMANTIC_VARIABLES:
            Color.parse(theme.variables[name])


def test_the_ansi_theme_uses_the_terminal_palette() -> None:
    theme = load_themes(bundled_themes_dir()).themes["ansi"]

    assert theme.ansi
    assert theme.background == "ansi_default" and theme.foreground == "ansi_default"
    assert all(theme.variables[name].startswith("ansi_") for name in SEMANTIC_VARIABLES)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('name = "x"\n[colors\nprimary = "#fff"', "not valid TOML"),
        ('name = "x"\n[colors]\nprimary = "blurple"', "colors.primary = 'blurple' is not a colour"),
        ('name = "x"\n[colors]\nsecondary = "#fff"', "needs at least `primary`"),
        ('[colors]\nprimary = "#fff"', "`name` must be a non-empty string"),
        ('name = "x"\ncolour = "red"\n[colors]\nprimary = "#fff"', "unknown key(s) colour"),
        ('name = "x"\n[colors]\nprimary = "#fff"\n[variables]\nhealth-ok = "nope"', "variables.health-ok"),
    ],
)
def test_a_broken_file_is_reported_with_its_name(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "good.toml").write_text(GOOD_THEME, encoding="utf-8")

    with pytest.raises(ThemeFileError, match=r"broken\.toml"):
        load_theme_file(path)
    loaded = load_themes(tmp_path)

    assert list(loaded.themes) == ["mine"]  # the good file still loads
    assert len(loaded.errors) == 1
    assert str(path) in loaded.errors[0] and problem in loaded.errors[0]


async def test_the_app_falls_back_to_the_default_and_names_the_broken_file(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('name = "mine"\n[colors]\nprimary = "no-such-colour"\n', "utf-8")
    posted: list[Message] = []
    app = FleetdeckApp(no_hosts(), theme="mine", user_themes_dir=tmp_path)

    async with app.run_test(message_hook=posted.append) as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        notes = [m.notification for m in posted if isinstance(m, Notify)]

    assert len(notes) == 1 and notes[0].severity == "error"
    assert str(tmp_path / "mine.toml") in notes[0].message
    assert "'mine' is not available; using 'fleetdeck-dark'" in notes[0].message


async def test_a_user_theme_without_semantic_variables_gets_them_from_its_colours(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(GOOD_THEME, encoding="utf-8")
    app = FleetdeckApp(no_hosts(), theme="mine", user_themes_dir=tmp_path)

    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "mine"
        assert Color.parse(app.theme_variables["health-ok"]) == Color.parse("#00aa00")
        assert all(name in app.theme_variables for name in SEMANTIC_VARIABLES)
        app.theme = "textual-light"  # a Textual built-in: the stylesheet must still resolve
        await pilot.pause()
        assert "health-crit" in app.theme_variables
