"""Errors meant for people: each one says what is wrong and where (file, key path, host).

Config problems are collected as :class:`ConfigIssue` values so that one ``fleetdeck check`` reports
every problem at once instead of stopping at the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_key_path(parts: Iterable[str | int]) -> str:
    """Render a key path the way TOML writes it: bare keys joined by dots, others quoted.

    Array indexes are written as ``[n]`` after their key, e.g. ``tasks.backup.steps[1].command``.
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
        out += f".{text}" if out else text
    return out


def describe_value(value: object) -> str:
    """Describe a found value in TOML terms for an error message (``"ssh"``, ``5``, ``a table``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return '"' + shown.replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a config file.

    Attributes:
        file: The file name as the user knows it (``hosts.toml``).
        path: The key path inside the file (``hosts.web01.port``); empty for whole-file problems.
        message: What was found and what was expected.
        line: The line number when known (TOML syntax errors).
    """

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class FleetdeckError(Exception):
    """Base class of errors that are reported to the user without a traceback."""

    exit_code = 1


class ConfigError(FleetdeckError):
    """The configuration has one or more problems; ``issues`` lists all of them."""

    exit_code = 78  # EX_CONFIG from sysexits.h, as the issue tracker and init systems expect

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class UsageError(FleetdeckError):
    """Bad input on the command line (unknown host, bad parameter value, ...)."""

    exit_code = 64  # EX_USAGE
