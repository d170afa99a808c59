"""`console.toml`: the health interval setting, and its errors naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetdeck.ui.console_settings import ConsoleSettings, load_settings


def settings_from(tmp_path: Path, text: str) -> ConsoleSettings:
    (tmp_path / "console.toml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [('health_interval = "5s"', 5.0), ("health_interval = 10", 10.0), ('health_interval = "1m30s"', 90.0), ("", None)],
)
def test_health_interval_takes_a_duration_or_seconds(tmp_path: Path, text: str, seconds: float | None) -> None:
    settings = settings_from(tmp_path, text)
    assert settings.health_interval_s == seconds
    assert settings.problems == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('health_interval = "fast"', 'expected a duration such as "30s"'),
        ("health_interval = 0", "out of range (1s to 600s)"),
        ('health_interval = "2h"', "out of range"),
        ("health_interval = true", "expected a duration"),
        ("health_interval = [2]", "expected a duration"),
    ],
)
def test_a_bad_health_interval_is_named_and_the_default_kept(tmp_path: Path, text: str, words: str) -> None:
    settings = settings_from(tmp_path, text)
    assert settings.health_interval_s is None
    assert len(settings.problems) == 1
    assert settings.problems[0].startswith("console.toml: health_interval: ")
    assert words in settings.problems[0]


def test_unknown_keys_list_the_allowed_ones(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, "interval = 5")
    assert settings.problems == [
        "console.toml: interval: unknown key; allowed keys: theme, health_interval, health_offscreen_interval, keymap"
    ]


def test_the_offscreen_interval_is_a_duration_and_never_shorter_than_the_health_interval(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, 'health_interval = "5s"\nhealth_offscreen_interval = "30s"')
    assert (settings.health_interval_s, settings.health_offscreen_interval_s, settings.problems) == (5.0, 30.0, [])
    settings = settings_from(tmp_path, 'health_interval = "5s"\nhealth_offscreen_interval = 2')
    assert settings.health_offscreen_interval_s == 5.0
    assert settings.problems == [
        "console.toml: health_offscreen_interval: 2s is shorter than health_interval (5s); using health_interval"
    ]
    settings = settings_from(tmp_path, 'health_offscreen_interval = "soon"')
    assert settings.health_offscreen_interval_s is None
    assert settings.problems[0].startswith("console.toml: health_offscreen_interval: ")
