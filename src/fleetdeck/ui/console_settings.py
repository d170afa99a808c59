"""Console settings: ``console.toml`` in the config dir (key remapping) and the remembered theme.

``console.toml`` is the user's file, read and validated but never rewritten::

    theme = "fleetdeck-light"        # the theme to start with (overrides the remembered one)
    health_interval = "5s"           # between two health samples of one host (default 2s)
    health_offscreen_interval = "15s"  # of a host out of sight (default three health intervals)
    [keymap]
    "app.tasks" = "T"                # binding id = key(s), comma-separated

The theme picked in the console is remembered in the state dir (``console-state.toml``, app-owned).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from fleetdeck.core.alerts.schema import parse_duration

SETTINGS_FILE = "console.toml"
STATE_FILE = "console-state.toml"
HEALTH_INTERVAL_RANGE_S = (1.0, 600.0)
"""Shortest and longest health interval the console accepts, seconds."""
OFFSCREEN_FACTOR = 3
"""Health intervals between two samples of a host out of sight, unless ``health_offscreen_interval`` says."""


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """What ``console.toml`` says, plus the problems found in it (shown as a notification)."""

    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    health_interval_s: float | None = None
    """Seconds between health samples of one host (`None`: the console's default). A fleet of hundreds of
    hosts sampled every 2 s is a hundred samples a second to parse; a longer interval costs proportionally less."""
    health_offscreen_interval_s: float | None = None
    """Seconds between health samples of a host whose row is out of sight (`None`: `OFFSCREEN_FACTOR` health
    intervals); the same as the health interval watches every host at full pace."""


def load_settings(config_dir: Path | None) -> ConsoleSettings:
    """Read ``console.toml``; a broken file yields defaults and names the problem (file, key)."""
    if config_dir is None or not (config_dir / SETTINGS_FILE).is_file():
        return ConsoleSettings()
    path = config_dir / SETTINGS_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return ConsoleSettings(problems=[f"{SETTINGS_FILE}: {exc}; using defaults"])
    problems = []
    theme = raw.pop("theme", None)
    if theme is not None and not isinstance(theme, str):
        problems.append(f"{SETTINGS_FILE}: theme: expected a string, got {theme!r}")
        theme = None
    keymap_raw = raw.pop("keymap", {})
    keymap: dict[str, str] = {}
    if not isinstance(keymap_raw, dict):
        problems.append(f"{SETTINGS_FILE}: keymap: expected a table of binding id = keys")
    else:
        for binding_id, keys in keymap_raw.items():
            if isinstance(keys, str) and keys.strip():
                keymap[binding_id] = keys
            else:
                problems.append(f'{SETTINGS_FILE}: keymap.{binding_id}: expected keys such as "ctrl+t", got {keys!r}')
    interval = _health_interval(raw.pop("health_interval", None), problems)
    offscreen = _health_interval(raw.pop("health_offscreen_interval", None), problems, "health_offscreen_interval")
    if offscreen is not None and offscreen < (interval or 0.0):
        problems.append(
            f"{SETTINGS_FILE}: health_offscreen_interval: {offscreen:g}s is shorter than health_interval "
            f"({interval:g}s); using health_interval"
        )
        offscreen = interval
    for key in raw:
        problems.append(
            f"{SETTINGS_FILE}: {key}: unknown key; allowed keys: theme, health_interval, health_offscreen_interval, "
            "keymap"
        )
    return ConsoleSettings(theme, keymap, problems, interval, offscreen)


def _health_interval(value: object, problems: list[str], key: str = "health_interval") -> float | None:
    """A ``health_interval`` setting as seconds: a duration such as ``"5s"`` or a number of seconds, within range."""
    if value is None:
        return None
    low, high = HEALTH_INTERVAL_RANGE_S
    where = f"{SETTINGS_FILE}: {key}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        problems.append(f'{where}: expected a duration such as "5s", got {value!r}; using the default')
        return None
    try:
        seconds = parse_duration(value) if isinstance(value, str) else float(value)
    except ValueError as exc:
        problems.append(f"{where}: {exc}; using the default")
        return None
    if not low <= seconds <= high:
        problems.append(f"{where}: {value!r} is out of range ({low:g}s to {high:g}s); using the default")
        return None
    return seconds


def remembered_theme(state_dir: Path) -> str | None:
    """The theme last picked in the console, if any."""
    try:
        value = tomllib.loads((state_dir / STATE_FILE).read_text(encoding="utf-8")).get("theme")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) else None


def remember_theme(state_dir: Path, theme: str) -> None:
    """Save the picked theme for next time (best effort: a read-only state dir is not an error)."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(tomli_w.dumps({"theme": theme}), encoding="utf-8")
        tmp.replace(state_dir / STATE_FILE)
    except OSError:
        pass
