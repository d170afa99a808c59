"""Where fleetdeck finds its config, keeps its state and looks for themes.

Config search order: ``--config DIR``, ``$FLEETDECK_CONFIG``, ``$XDG_CONFIG_HOME/fleetdeck/`` (when it
exists), then the bundled samples (the embedded default: this machine plus sample tasks). State (run
records, output files, the app's own known_hosts) lives under ``$XDG_STATE_HOME/fleetdeck/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ConfigOrigin = Literal["--config", "FLEETDECK_CONFIG", "XDG_CONFIG_HOME", "bundled"]

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _bundled(name: str) -> Path:
    """A bundled data dir: the repo's top-level dir in a checkout, else the copy inside the wheel."""
    repo = _PACKAGE_DIR.parents[1]
    if (repo / "pyproject.toml").is_file() and (repo / name).is_dir():
        return repo / name
    return _PACKAGE_DIR / "_bundled" / name


def bundled_configs_dir() -> Path:
    """The sample configs shipped with fleetdeck (``configs/``)."""
    return _bundled("configs")


def bundled_themes_dir() -> Path:
    """The themes shipped with fleetdeck (``themes/``)."""
    return _bundled("themes")


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / fallback


def user_config_dir() -> Path:
    """``$XDG_CONFIG_HOME/fleetdeck`` (``~/.config/fleetdeck`` by default)."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "fleetdeck"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/fleetdeck`` (``~/.local/state/fleetdeck``): runs, output files, audit."""
    override = os.environ.get("FLEETDECK_STATE")
    if override:
        return Path(override)
    return _xdg("XDG_STATE_HOME", ".local/state") / "fleetdeck"


@dataclass(frozen=True, slots=True)
class ConfigLocation:
    """The config dir in use and why it was chosen (shown by ``fleetdeck locate``)."""

    path: Path
    origin: ConfigOrigin


def find_config_dir(cli_dir: str | os.PathLike[str] | None = None) -> ConfigLocation:
    """Apply the search order; an explicit choice is returned even if missing so the error names it."""
    if cli_dir:
        return ConfigLocation(Path(cli_dir).expanduser().absolute(), "--config")
    env = os.environ.get("FLEETDECK_CONFIG")
    if env:
        return ConfigLocation(Path(env).expanduser().absolute(), "FLEETDECK_CONFIG")
    user = user_config_dir()
    if user.is_dir():
        return ConfigLocation(user, "XDG_CONFIG_HOME")
    return ConfigLocation(bundled_configs_dir(), "bundled")


def theme_dirs(config_dir: Path) -> list[Path]:
    """Theme search path, later entries overriding earlier ones of the same name."""
    return [bundled_themes_dir(), config_dir / "themes"]
