"""Theme files: `themes/*.toml` turned into Textual `Theme` objects with fleetdeck's semantic variables.

A theme file names its base colours in `[colors]` and the console's own meanings in `[variables]`
(`health-ok`, `health-crit`, `host-down`, ...), so stylesheets say `$health-crit` and never a colour.
Bundled themes live in `<repo>/themes` in a source checkout and in `fleetdeck/_bundled/themes` once
installed; a user's theme directory is read after them, so a user file with the same name wins. A broken
file is skipped and reported, never fatal: the app falls back to `DEFAULT_THEME` and says which file failed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "fleetdeck-dark"

COLOR_KEYS: tuple[str, ...] = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
)
"""The `[colors]` a theme file may set; only `primary` is required, Textual derives the rest."""

SEMANTIC_VARIABLES: tuple[str, ...] = (
    "health-ok",
    "health-warn",
    "health-crit",
    "host-down",
    "stream-stderr",
    "muted",
)
"""fleetdeck's own theme variables; every bundled theme sets all of them."""

_SEMANTIC_FALLBACKS: Mapping[str, str] = {
    "health-ok": "success",
    "health-warn": "warning",
    "health-crit": "error",
    "host-down": "error",
    "stream-stderr": "error",
    "muted": "foreground-muted",
}
"""Which generated Textual variable stands in when a theme leaves a semantic variable out."""

_TOP_LEVEL_KEYS = frozenset({"name", "dark", "ansi", "colors", "variables"})


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the problem."""


@dataclass(slots=True)
class LoadedThemes:
    """Themes found on disk and the files that had to be skipped.

    Attributes:
        themes: Usable themes by name, later directories overriding earlier ones.
        errors: One message per skipped file, naming the file and what to fix.
    """

    themes: dict[str, Theme] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def load_themes(*directories: Path | None) -> LoadedThemes:
    """Load every `*.toml` theme from `directories`, in order.

    Args:
        directories: Directories to read; `None` or missing ones are skipped, so callers can pass an
            optional user directory as is.

    Returns:
        The usable themes and a message for each file that was skipped.
    """
    loaded = LoadedThemes()
    for directory in directories:
        if directory is None or not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as error:
                loaded.errors.append(str(error))
                continue
            loaded.themes[theme.name] = theme
    return loaded


def load_theme_file(path: Path) -> Theme:
    """Read one theme file.

    Args:
        path: A TOML file with `name`, optional `dark` and `ansi`, `[colors]` and `[variables]`.

    Returns:
        The theme, its variables exactly as the file gives them.

    Raises:
        ThemeFileError: The file is unreadable, not TOML, or has a missing or invalid field.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ThemeFileError(f"{path}: cannot read theme file ({error.strerror})") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ThemeFileError(f"{path}: not valid TOML ({error})") from error
    return _theme_from_data(path, data)


def variable_defaults(theme: Theme) -> dict[str, str]:
    """Values for variables `theme` may leave out, derived from its own colours.

    Covers the semantic variables, for themes that do not set them (such as Textual's built-in ones
    chosen from the command palette) so the stylesheet's `$health-*` references always resolve, and the
    two variables Textual's own CSS needs but does not generate for ANSI themes.
    """
    generated = theme.to_color_system().generate()
    defaults = {name: generated[source] for name, source in _SEMANTIC_FALLBACKS.items()}
    if theme.ansi:
        dark = ("ansi_black", "ansi_white")
        background, foreground = dark if theme.dark else dark[::-1]
        defaults |= {"ansi-background": background, "ansi-foreground": foreground}
    return defaults


def _theme_from_data(path: Path, data: Mapping[str, Any]) -> Theme:
    """Validate the parsed TOML strictly, so a typo is reported instead of silently ignored."""
    unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
    if unknown:
        raise ThemeFileError(f"{path}: unknown key(s) {', '.join(unknown)}; expected {_expected_keys()}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f'{path}: `name` must be a non-empty string, e.g. name = "my-theme"')
    dark = data.get("dark", True)
    ansi = data.get("ansi", False)
    for key, value in (("dark", dark), ("ansi", ansi)):
        if not isinstance(value, bool):
            raise ThemeFileError(f"{path}: `{key}` must be true or false")
    colors = _table(path, data, "colors")
    unknown = sorted(set(colors) - set(COLOR_KEYS))
    if unknown:
        raise ThemeFileError(f"{path}: [colors] has unknown key(s) {', '.join(unknown)}; use {', '.join(COLOR_KEYS)}")
    if "primary" not in colors:
        raise ThemeFileError(f"{path}: [colors] needs at least `primary`")
    for key, value in colors.items():
        _check_color(path, f"colors.{key}", value)
    variables = _table(path, data, "variables")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ThemeFileError(f"{path}: variables.{key} must be a string")
        if key in SEMANTIC_VARIABLES:
            _check_color(path, f"variables.{key}", value)
    return Theme(
        name=name.strip(),
        primary=colors["primary"],
        secondary=colors.get("secondary"),
        accent=colors.get("accent"),
        foreground=colors.get("foreground"),
        background=colors.get("background"),
        surface=colors.get("surface"),
        panel=colors.get("panel"),
        success=colors.get("success"),
        warning=colors.get("warning"),
        error=colors.get("error"),
        dark=dark,
        ansi=ansi,
        variables=dict(variables),
    )


def _table(path: Path, data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An optional TOML table, checked to be a table."""
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ThemeFileError(f"{path}: `{key}` must be a table, written [{key}]")
    return value


def _check_color(path: Path, where: str, value: object) -> None:
    """Reject anything Textual cannot parse as a colour, naming the field."""
    if not isinstance(value, str):
        raise ThemeFileError(f'{path}: {where} must be a colour string such as "#1e90ff"')
    try:
        Color.parse(value)
    except ColorParseError as error:
        raise ThemeFileError(f"{path}: {where} = {value!r} is not a colour ({error})") from error


def _expected_keys() -> str:
    return ", ".join(sorted(_TOP_LEVEL_KEYS))
