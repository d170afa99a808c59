"""Importers that turn existing inventories into fleetdeck ``hosts.toml`` data.

Most fleets are already described somewhere, usually in ``~/.ssh/config`` or an Ansible inventory, so the
importers in this package read those formats and return an :class:`ImportResult` whose ``data`` is the plain
dict the CLI writes with ``tomli_w``. This module holds what every importer shares: the result type, the
error type, and :func:`assemble`, which turns fully resolved per-host settings into the final dict (hoisting
values every host shares into ``[defaults]`` and emitting only known keys that carry a value). Anything
fleetdeck cannot express becomes a warning rather than disappearing silently, and input that cannot be parsed
raises :class:`InventoryImportError` naming the file and line, so users fix the source instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from fleetdeck.core.nodeset import expand

__all__ = [
    "DEFAULT_KEYS",
    "GROUP_KEYS",
    "HOISTABLE_KEYS",
    "HOST_KEYS",
    "ImportResult",
    "InventoryImportError",
    "VarValue",
    "assemble",
    "location",
    "node_count",
    "read_text",
]

#: Keys a ``[hosts.NAME]`` table may carry, in the order they are emitted.
HOST_KEYS: tuple[str, ...] = (
    "address",
    "user",
    "port",
    "identity_file",
    "known_hosts",
    "host_key_policy",
    "connect_timeout",
    "jump",
    "transport",
    "groups",
    "tags",
    "vars",
    "description",
)
#: Keys the ``[defaults]`` table may carry, in the order they are emitted.
DEFAULT_KEYS: tuple[str, ...] = (
    "user",
    "port",
    "identity_file",
    "known_hosts",
    "host_key_policy",
    "connect_timeout",
    "jump",
    "transport",
    "tags",
    "vars",
)
#: Scalar connection settings that may move from hosts into ``[defaults]`` when every host agrees.
HOISTABLE_KEYS: tuple[str, ...] = (
    "user",
    "port",
    "identity_file",
    "known_hosts",
    "host_key_policy",
    "connect_timeout",
    "jump",
    "transport",
)
#: Keys a ``[groups.NAME]`` table may carry, in the order they are emitted.
GROUP_KEYS: tuple[str, ...] = ("vars", "children", "description")

#: The value types fleetdeck accepts in ``vars``.
VarValue: TypeAlias = str | int | float | bool


class InventoryImportError(ValueError):
    """An inventory could not be read or parsed.

    The message starts with ``file:line`` when the position is known, because the user has to fix the source
    file and should not have to hunt for the offending line.
    """

    def __init__(self, reason: str, path: Path | str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(reason if path is None else f"{location(path, line)}: {reason}")


@dataclass(frozen=True)
class ImportResult:
    """What an importer produced.

    Attributes:
        data: The ``hosts.toml`` document as a plain dict, ready for ``tomli_w.dumps``.
        warnings: Human-readable notes about input that was skipped or changed, each prefixed with the
            source file and line (or host) so the user can review it.
        host_count: How many hosts ``data`` declares, counting every member of a node set.
    """

    data: dict[str, Any]
    warnings: list[str]
    host_count: int


def location(path: Path | str, line: int | None = None) -> str:
    """Format a source position the way compilers do, so editors and terminals can jump to it."""
    return f"{path}:{line}" if line is not None else str(path)


def read_text(path: Path) -> str:
    """Read an inventory file, turning OS and encoding failures into an :class:`InventoryImportError`."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InventoryImportError(f"not a UTF-8 text file ({exc.reason})", path) from exc
    except OSError as exc:
        raise InventoryImportError(f"cannot read file: {exc.strerror or exc}", path) from exc


def node_count(key: str) -> int:
    """Count the hosts a ``[hosts]`` key declares; ``web[01-20]`` declares 20, a plain name one."""
    return len(expand(key))


def assemble(
    hosts: Mapping[str, Mapping[str, Any]],
    *,
    defaults: Mapping[str, Any] | None = None,
    groups: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build the ``hosts.toml`` dict from fully resolved per-host settings.

    Hosts carry every setting that applies to them, so a host never depends on ``[defaults]`` for meaning.
    A hoistable key that every host (of two or more) sets to the same value moves into ``[defaults]``, and
    host values equal to the default are dropped; the result therefore means exactly what the per-host
    settings meant while staying short. The usual bastion layout (every host but the bastion jumps through
    it) also hoists, with ``jump = ""`` on the bastion. Only connection keys are compared with the
    defaults: ``vars`` are left alone because a host's own value must keep beating any group value in
    between. Only known keys with a value are emitted.

    Args:
        hosts: Host key to its settings, in the order the hosts should appear.
        defaults: Settings the source itself declared for every host (for example Ansible's ``all`` vars).
        groups: Group name to its ``vars``/``children``/``description``.

    Returns:
        The document, with ``defaults``, ``hosts`` and ``groups`` present only when non-empty.
    """
    merged_defaults: dict[str, Any] = {key: value for key, value in (defaults or {}).items() if _has_value(value)}
    if len(hosts) >= 2:
        for key in HOISTABLE_KEYS:
            values = [settings.get(key) for settings in hosts.values()]
            if key not in merged_defaults and _has_value(values[0]) and values.count(values[0]) == len(values):
                merged_defaults[key] = values[0]
        if "jump" not in merged_defaults:
            bastion = _shared_jump(hosts)
            if bastion is not None:
                merged_defaults["jump"] = bastion
    host_tables = {name: _host_table(settings, merged_defaults) for name, settings in hosts.items()}
    document: dict[str, Any] = {}
    defaults_table = _compact(merged_defaults, DEFAULT_KEYS)
    if defaults_table:
        document["defaults"] = defaults_table
    if host_tables:
        document["hosts"] = host_tables
    group_tables = {name: _compact(table, GROUP_KEYS) for name, table in (groups or {}).items()}
    group_tables = {name: table for name, table in group_tables.items() if table}
    if group_tables:
        document["groups"] = group_tables
    return document


def _shared_jump(hosts: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Find the one jump host all other hosts go through while it is itself reached directly."""
    targets = {settings["jump"] for settings in hosts.values() if settings.get("jump")}
    if len(targets) != 1:
        return None
    (bastion,) = targets
    direct = [name for name, settings in hosts.items() if not settings.get("jump")]
    return bastion if direct in ([], [bastion]) else None


def _host_table(settings: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Write one host's settings minus what ``[defaults]`` already says."""
    table = _compact(
        {key: value for key, value in settings.items() if key not in HOISTABLE_KEYS or defaults.get(key) != value},
        HOST_KEYS,
    )
    if defaults.get("jump") and not settings.get("jump"):
        # Reached directly even though the fleet default is to jump; "" is how hosts.toml says so.
        table = _compact({**table, "jump": ""}, HOST_KEYS, keep_empty="jump")
    return table


def _has_value(value: Any) -> bool:
    """Tell whether a setting is worth emitting; ``False`` and ``0`` are values, empties are not."""
    return value is not None and not (isinstance(value, str | list | dict | tuple) and not value)


def _compact(table: Mapping[str, Any], order: Iterable[str], keep_empty: str | None = None) -> dict[str, Any]:
    """Keep only the known keys that carry a value, in canonical order, so output is stable and valid."""
    return {key: table[key] for key in order if key in table and (key == keep_empty or _has_value(table[key]))}
