"""Import hosts and groups from a static Ansible inventory (INI or YAML).

Both formats are read into the same model (groups with vars and children, host mentions with vars) and then
translated once. Host patterns with numeric ranges (``web[01:20]``) become a single fleetdeck node-set key
(``web[01-20]``); alphabetic ranges, which node sets cannot express, are expanded into separate hosts, and a
node set overlapping another entry is expanded too, so each host gets exactly its Ansible settings.
Connection variables (``ansible_host``, ``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file``,
``ansible_connection``) become fleetdeck keys; because fleetdeck groups carry no connection settings,
group-level ones are resolved onto each member host with Ansible's precedence (``all`` < parent groups <
child groups < host). Other variables become ``vars`` of the host, the group or, for group ``all``, of
``[defaults]``; other ``ansible_*`` variables have no equivalent and are reported as warnings.
"""

from __future__ import annotations

import datetime
import itertools
import math
import re
import shlex
import string
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleetdeck.core.importers import (
    ImportResult,
    InventoryImportError,
    VarValue,
    assemble,
    location,
    node_count,
    read_text,
)
from fleetdeck.core.nodeset import expand

__all__ = ["import_ansible"]

#: Ansible's implicit groups: every host is in ``all``; hosts in no other group are in ``ungrouped``.
_IMPLICIT_GROUPS = frozenset({"all", "ungrouped"})
#: Inventory variables fleetdeck understands, mapped to the host key they set.
_CONNECTION_VARS: dict[str, str] = {
    "ansible_host": "address",
    "ansible_ssh_host": "address",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "ansible_ssh_private_key_file": "identity_file",
    "ansible_private_key_file": "identity_file",
    "ansible_connection": "transport",
}
_TRANSPORTS: dict[str, str] = {
    "local": "local",
    "ssh": "ssh",
    "smart": "ssh",
    "paramiko": "ssh",
    "paramiko_ssh": "ssh",
}
_PRIORITY_VAR = "ansible_group_priority"
_INVENTORY_HOSTNAME = re.compile(r"\{\{\s*inventory_hostname\s*\}\}")
_SECTION = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?")
_CHILD = re.compile(r"([^:\]\s]+)\s*(?:[#;].*)?")
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_RANGE = re.compile(r"(\d*|[a-zA-Z]):(\d+|[a-zA-Z])(?::(\d+))?")
_PORT_SUFFIX = re.compile(r"(.+):(\d+)")
_INTEGER = re.compile(r"[-+]?(?:0|[1-9]\d*)")
_YAML_SUFFIXES = frozenset({".yml", ".yaml", ".json"})


@dataclass(frozen=True)
class _Var:
    """A variable value and where it was set, so warnings and errors can point at the source line."""

    value: Any
    line: int


@dataclass
class _Group:
    """A group as declared in the inventory, before translation."""

    name: str
    vars: dict[str, _Var] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Mention:
    """One appearance of a host key under a group, with the vars given at that spot."""

    key: str
    group: str
    vars: dict[str, _Var]


@dataclass(frozen=True)
class _Unsupported:
    """An ``ansible_connection`` fleetdeck cannot speak; hosts resolving to it are skipped."""

    connection: str


@dataclass
class _Host:
    """A host (or node set) with its direct groups and merged host vars."""

    key: str
    groups: list[str] = field(default_factory=list)
    vars: dict[str, _Var] = field(default_factory=dict)


class _Inventory:
    """The format-neutral model both parsers fill in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.groups: dict[str, _Group] = {"all": _Group("all"), "ungrouped": _Group("ungrouped")}
        self.mentions: list[_Mention] = []
        self.warnings: list[str] = []

    def group(self, name: str) -> _Group:
        """Return the named group, creating it on first use as Ansible does."""
        return self.groups.setdefault(name, _Group(name))

    def add_child(self, parent: str, child: str) -> None:
        """Record that ``child`` is nested in ``parent``; nesting under ``all`` is implicit and not kept."""
        self.group(child)
        children = self.group(parent).children
        if parent != "all" and child != "all" and child not in children:
            children.append(child)

    def add_hosts(self, pattern: str, group: str, host_vars: dict[str, _Var], line: int) -> None:
        """Record the hosts a pattern such as ``db-[a:c].example.com:2222`` names, with their vars."""
        name, port = _split_port(pattern)
        if port is not None:
            host_vars = {"ansible_port": _Var(port, line), **host_vars}
        self.group(group)
        for key in _expand_pattern(name, self.path, line):
            self.mentions.append(_Mention(key, group, host_vars))


def import_ansible(path: Path) -> ImportResult:
    """Import a static Ansible inventory in INI or YAML form.

    Args:
        path: The inventory file. ``.yml``, ``.yaml`` and ``.json`` files are read as YAML; anything else
            is sniffed, since INI inventories are often called just ``hosts``.

    Returns:
        Hosts with their direct groups, groups with vars and children, and ``[defaults]`` from group ``all``.

    Raises:
        InventoryImportError: The file cannot be read, is malformed, or is a dynamic inventory plugin config.
    """
    text = read_text(path)
    inventory = _Inventory(path)
    if path.suffix.lower() in _YAML_SUFFIXES or _looks_like_yaml(text):
        _parse_yaml(text, inventory)
    else:
        _parse_ini(text, inventory)
    return _translate(inventory)


# --------------------------------------------------------------------------------------------- INI format


def _parse_ini(text: str, inventory: _Inventory) -> None:
    """Read Ansible's INI format: host lines, ``[group]``, ``[group:vars]`` and ``[group:children]``."""
    path = inventory.path
    group, section = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            match = _SECTION.fullmatch(line)
            if match is None:
                raise InventoryImportError(f"invalid section header {line!r}", path, number)
            group, section = match.group(1), match.group(2) or "hosts"
            if section not in {"hosts", "vars", "children"}:
                raise InventoryImportError(
                    f"invalid section type {section!r}; expected vars, children or hosts", path, number
                )
            inventory.group(group)
        elif section == "hosts":
            _parse_ini_host_line(line, group, inventory, number)
        elif section == "vars":
            name, value = _parse_ini_assignment(line, path, number)
            inventory.group(group).vars[name] = _Var(value, number)
        else:
            match = _CHILD.fullmatch(line)
            if match is None:
                raise InventoryImportError(f"invalid child group name {line!r}", path, number)
            inventory.add_child(group, match.group(1))


def _parse_ini_host_line(line: str, group: str, inventory: _Inventory, number: int) -> None:
    """Parse ``pattern key=value ...``; values are shell-quoted, as Ansible reads them with shlex."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        raise InventoryImportError(f"cannot parse host line: {exc}", inventory.path, number) from exc
    host_vars: dict[str, _Var] = {}
    for token in tokens[1:]:
        name, equals, value = token.partition("=")
        if not equals or not name:
            raise InventoryImportError(f"expected key=value host variable, got {token!r}", inventory.path, number)
        host_vars[name] = _Var(_ini_scalar(value), number)
    if tokens:
        inventory.add_hosts(tokens[0], group, host_vars, number)


def _parse_ini_assignment(line: str, path: Path, number: int) -> tuple[str, VarValue]:
    """Parse a ``key = value`` line of a ``:vars`` section; a quoted value stays a string."""
    name, equals, value = (part.strip() for part in line.partition("="))
    if not equals or not name:
        raise InventoryImportError(f"expected key=value, got {line!r}", path, number)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return name, value[1:-1]
    return name, _ini_scalar(value)


def _ini_scalar(text: str) -> VarValue:
    """Type an INI value the way an Ansible user expects: integers and yes/no/true/false, else a string.

    Numbers with leading zeros and decimals stay strings, so ``007`` and ``3.10`` survive unchanged.
    """
    lowered = text.lower()
    if lowered in {"true", "yes"}:
        return True
    if lowered in {"false", "no"}:
        return False
    if _INTEGER.fullmatch(text):
        return int(text)
    return text


# -------------------------------------------------------------------------------------------- YAML format


class _YamlMap(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key, for error messages and warnings."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        """Return the line of ``key``, falling back to the mapping's own line."""
        return self.key_lines.get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings are :class:`_YamlMap` instances."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _YamlMap:
    """Build a mapping node like the safe loader does, keeping line numbers."""
    loader.flatten_mapping(node)
    mapping = _YamlMap(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _load_yaml(text: str, path: Path) -> Any:
    """Parse YAML, reporting syntax errors with the line they occur on."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        raise InventoryImportError(f"invalid YAML: {exc.problem or exc.context}", path, line) from exc
    except yaml.YAMLError as exc:
        raise InventoryImportError(f"invalid YAML: {exc}", path) from exc


def _looks_like_yaml(text: str) -> bool:
    """Sniff a file without a telling extension: YAML inventories are a mapping of groups."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(document, dict) and all(isinstance(body, dict | None) for body in document.values())


def _parse_yaml(text: str, inventory: _Inventory) -> None:
    """Read the YAML format: top-level groups (usually just ``all``) with hosts, vars and children."""
    path = inventory.path
    document = _load_yaml(text, path)
    if document is None:
        return
    if not isinstance(document, _YamlMap):
        raise InventoryImportError("expected a mapping of groups at the top level", path, 1)
    if isinstance(document.get("plugin"), str):
        raise InventoryImportError(
            f"this is a configuration for the {document['plugin']!r} inventory plugin, not a static "
            "inventory; export one with `ansible-inventory --list --yaml` and import that",
            path,
            document.line_of("plugin"),
        )
    if "_meta" in document:
        raise InventoryImportError(
            "this is `ansible-inventory --list` JSON output, which lists hosts rather than describing groups; "
            "export with `ansible-inventory --list --yaml` and import that",
            path,
            document.line_of("_meta"),
        )
    for name, body in document.items():
        _parse_yaml_group(str(name), body, None, inventory, document.line_of(name))


def _parse_yaml_group(name: str, body: Any, parent: str | None, inventory: _Inventory, line: int) -> None:
    """Read one group entry and, recursively, its children."""
    path = inventory.path
    inventory.group(name)
    if parent is not None:
        inventory.add_child(parent, name)
    if body is None:
        return
    if not isinstance(body, _YamlMap):
        raise InventoryImportError(f"group {name!r} must be a mapping, got {_kind(body)}", path, line)
    for key, value in body.items():
        key_line = body.line_of(key)
        if key == "hosts":
            for host, host_vars in _yaml_entries(value, f"hosts of group {name!r}", path, key_line):
                host_line = value.line_of(host)
                variables = _yaml_vars(host_vars, f"vars of host {host!r}", path, host_line)
                inventory.add_hosts(str(host), name, variables, host_line)
        elif key == "vars":
            inventory.group(name).vars.update(_yaml_vars(value, f"vars of group {name!r}", path, key_line))
        elif key == "children":
            for child, child_body in _yaml_entries(value, f"children of group {name!r}", path, key_line):
                _parse_yaml_group(str(child), child_body, name, inventory, value.line_of(child))
        else:
            inventory.warnings.append(
                f"{location(path, key_line)}: group {name}: unexpected key {key!r} "
                "(only hosts, vars and children are valid), ignored"
            )


def _yaml_entries(value: Any, what: str, path: Path, line: int) -> Iterator[tuple[Any, Any]]:
    """Iterate a ``hosts``/``children`` mapping, which Ansible requires to be a mapping (or empty)."""
    if value is None:
        return iter(())
    if not isinstance(value, _YamlMap):
        raise InventoryImportError(f"{what} must be a mapping, got {_kind(value)}", path, line)
    return iter(value.items())


def _yaml_vars(value: Any, what: str, path: Path, line: int) -> dict[str, _Var]:
    """Convert a YAML vars mapping (or nothing) into located variables."""
    if value is None:
        return {}
    if not isinstance(value, _YamlMap):
        raise InventoryImportError(f"{what} must be a mapping, got {_kind(value)}", path, line)
    return {str(name): _Var(item, value.line_of(name)) for name, item in value.items()}


def _kind(value: Any) -> str:
    """Describe a YAML value's type in the user's terms."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__


# ---------------------------------------------------------------------------------------- host patterns


def _split_port(pattern: str) -> tuple[str, int | None]:
    """Split a trailing ``:port`` off a host pattern, leaving IPv6 addresses and ranges intact."""
    match = _PORT_SUFFIX.fullmatch(pattern)
    if match is None or ":" in _BRACKETS.sub("", match.group(1)):
        return pattern, None
    port = int(match.group(2))
    return (match.group(1), port) if 0 < port < 65536 else (pattern, None)


def _expand_pattern(pattern: str, path: Path, line: int) -> list[str]:
    """Turn an Ansible host pattern into fleetdeck host keys.

    Numeric ranges stay compact as node sets (``web[01:20]`` -> ``web[01-20]``, ``[1:9:2]`` ->
    ``[1-9/2]``); alphabetic ranges have no node-set form, so they are expanded into one key per host.
    """
    pieces: list[list[str]] = []
    position = 0
    for match in _BRACKETS.finditer(pattern):
        pieces.append([pattern[position : match.start()]])
        pieces.append(_range_alternatives(match.group(1), pattern, path, line))
        position = match.end()
    pieces.append([pattern[position:]])
    if any(char in piece[0] for piece in pieces[::2] for char in "[]"):
        raise InventoryImportError(f"unbalanced brackets in host pattern {pattern!r}", path, line)
    return ["".join(parts) for parts in itertools.product(*pieces)]


def _range_alternatives(body: str, pattern: str, path: Path, line: int) -> list[str]:
    """Expand one ``[start:end(:step)]`` range into the strings it stands for."""
    match = _RANGE.fullmatch(body)
    if match is None:
        raise InventoryImportError(f"invalid range [{body}] in host pattern {pattern!r}", path, line)
    start, end, step_text = match.groups()
    step = int(step_text) if step_text else 1
    numeric = end.isdigit()
    start = start or ("0" if numeric else "a")
    if numeric != start.isdigit():
        raise InventoryImportError(f"range [{body}] mixes digits and letters in {pattern!r}", path, line)
    # Letters run through string.ascii_letters (a-z, then A-Z), as in Ansible.
    first, last = (int(start), int(end)) if numeric else map(string.ascii_letters.index, (start, end))
    if step < 1 or first > last:
        raise InventoryImportError(f"empty range [{body}] in host pattern {pattern!r}", path, line)
    if not numeric:
        return list(string.ascii_letters[first : last + 1 : step])
    # Ansible pads every number to the width of a zero-padded start; node sets want the end written alike.
    width = len(start) if start.startswith("0") and len(start) > 1 else 0
    bounds = f"{start}-{str(int(end)).zfill(width)}"
    return [f"[{bounds}]" if step == 1 else f"[{bounds}/{step}]"]


# ------------------------------------------------------------------------------------------ translation


class _Translator:
    """Turns the parsed model into the ``hosts.toml`` dict, collecting warnings on the way."""

    def __init__(self, inventory: _Inventory) -> None:
        self.inventory = inventory
        self.warnings = list(inventory.warnings)
        self.parents = self._parents()
        self.depths: dict[str, int] = {"all": 0}
        for name in inventory.groups:
            self._depth(name, ())

    def _parents(self) -> dict[str, list[str]]:
        """Invert the children lists so precedence can walk upwards from a host's groups."""
        parents: dict[str, list[str]] = {name: [] for name in self.inventory.groups}
        for group in self.inventory.groups.values():
            for child in group.children:
                parents[child].append(group.name)
        return parents

    def _depth(self, name: str, trail: tuple[str, ...]) -> int:
        """Compute Ansible's group depth (``all`` is 0), refusing cycles as Ansible does."""
        if name in self.depths:
            return self.depths[name]
        if name in trail:
            cycle = " -> ".join((*trail[trail.index(name) :], name))
            raise InventoryImportError(f"group nesting forms a cycle: {cycle}", self.inventory.path)
        depth = 1 + max((self._depth(parent, (*trail, name)) for parent in self.parents[name]), default=0)
        self.depths[name] = depth
        return depth

    def _ancestors(self, name: str) -> set[str]:
        """Return a group and every group it is nested in, except the implicit ones."""
        found = {name} - _IMPLICIT_GROUPS
        for parent in self.parents[name]:
            found |= self._ancestors(parent)
        return found

    def translate(self) -> ImportResult:
        """Produce the result: resolve hosts, then keep the groups that still mean something."""
        groups = self.inventory.groups
        if groups["ungrouped"].vars:
            first = next(iter(groups["ungrouped"].vars.values()))
            self.warnings.append(f"{self._where(first)}: vars of group ungrouped have no fleetdeck equivalent, ignored")
        connection: dict[str, dict[str, _Var]] = {}
        plain: dict[str, dict[str, VarValue]] = {}
        for name, group in groups.items():
            connection[name], plain[name] = self._split_vars(group.vars, f"group {name}", is_group=True)

        defaults: dict[str, Any] = {
            key: var.value for key, var in connection["all"].items() if not isinstance(var.value, _Unsupported)
        }
        if defaults.get("transport") == "ssh":
            del defaults["transport"]
        defaults["vars"] = plain["all"]

        hosts: dict[str, dict[str, Any]] = {}
        for host in self._hosts():
            settings = self._resolve(host, connection, defaults)
            if settings is not None:
                hosts[host.key] = settings

        members = {group for settings in hosts.values() for group in settings.get("groups", [])}
        kept = self._kept_groups(members, plain)
        group_tables = {
            name: {"vars": plain[name], "children": [child for child in groups[name].children if child in kept]}
            for name in groups
            if name in kept
        }
        return ImportResult(
            data=assemble(hosts, defaults=defaults, groups=group_tables),
            warnings=list(dict.fromkeys(self.warnings)),
            host_count=sum(node_count(key) for key in hosts),
        )

    def _hosts(self) -> list[_Host]:
        """Merge host mentions per key, expanding node sets that overlap other keys.

        Ansible merges everything said about one host name. Node sets are kept compact, but when one
        overlaps another key it is expanded, so every host still gets the union of what was said about it.
        """
        owners: dict[str, str] = {}
        overlapping: set[str] = set()
        for key in dict.fromkeys(mention.key for mention in self.inventory.mentions):
            for name in expand(key):
                owner = owners.setdefault(name, key)
                if owner != key:
                    overlapping |= {owner, key}
        hosts: dict[str, _Host] = {}
        for mention in self.inventory.mentions:
            keys = expand(mention.key) if mention.key in overlapping else [mention.key]
            for key in keys:
                host = hosts.setdefault(key, _Host(key))
                if mention.group not in _IMPLICIT_GROUPS and mention.group not in host.groups:
                    host.groups.append(mention.group)
                host.vars.update(mention.vars)
        return list(hosts.values())

    def _resolve(
        self,
        host: _Host,
        connection: Mapping[str, Mapping[str, _Var]],
        defaults: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        """Compute a host's settings, applying group connection vars by Ansible precedence.

        Only connection vars are pushed down from groups, since fleetdeck groups cannot carry them; plain
        group vars stay on their groups, where fleetdeck resolves them itself.
        """
        own_connection, own_plain = self._split_vars(host.vars, f"host {host.key}", is_group=False)
        ancestors: set[str] = set()
        for group in host.groups:
            ancestors |= self._ancestors(group)
        ordered = sorted(ancestors, key=lambda name: (self.depths[name], self._priority(name), name))
        effective: dict[str, _Var] = dict(connection["all"])
        for name in ordered:
            effective.update(connection[name])
        effective.update(own_connection)

        transport = effective.get("transport")
        if transport is not None and isinstance(transport.value, _Unsupported):
            self.warnings.append(
                f"{self._where(transport)}: host {host.key}: ansible_connection={transport.value.connection} "
                "is not supported by fleetdeck (only ssh and local), host skipped"
            )
            return None
        settings: dict[str, Any] = {key: var.value for key, var in effective.items()}
        if settings.get("transport") == "ssh" and defaults.get("transport") != "local":
            del settings["transport"]  # ssh is fleetdeck's default transport
        settings["groups"] = host.groups
        settings["vars"] = own_plain
        return settings

    def _priority(self, name: str) -> int:
        """Read ``ansible_group_priority``, which orders sibling groups of equal depth."""
        var = self.inventory.groups[name].vars.get(_PRIORITY_VAR)
        return var.value if var is not None and isinstance(var.value, int) else 1

    def _kept_groups(self, members: set[str], plain: Mapping[str, Mapping[str, VarValue]]) -> set[str]:
        """Select groups worth a ``[groups]`` entry: those with hosts, vars or such children."""
        kept: set[str] = set()
        # A child is always deeper than its parents, so deepest-first decides every child before its parents.
        for name in sorted(self.inventory.groups, key=lambda group: -self.depths[group]):
            if name in _IMPLICIT_GROUPS:
                continue
            children = self.inventory.groups[name].children
            if name in members or plain[name] or any(child in kept for child in children):
                kept.add(name)
        return kept

    def _split_vars(
        self, variables: Mapping[str, _Var], owner: str, *, is_group: bool
    ) -> tuple[dict[str, _Var], dict[str, VarValue]]:
        """Separate connection vars (translated to fleetdeck keys) from plain vars (typed for TOML)."""
        connection: dict[str, _Var] = {}
        plain: dict[str, VarValue] = {}
        for name, var in variables.items():
            if name in _CONNECTION_VARS:
                key = _CONNECTION_VARS[name]
                value = self._connection_value(key, name, var, owner)
                if value is not None:
                    connection[key] = _Var(value, var.line)
            elif name == _PRIORITY_VAR and is_group:
                continue
            elif name.startswith("ansible_"):
                self.warnings.append(f"{self._where(var)}: {owner}: {name} has no fleetdeck equivalent, ignored")
            else:
                scalar = self._plain_value(var, name, owner)
                if scalar is not None:
                    plain[name] = scalar
        return connection, plain

    def _connection_value(self, key: str, name: str, var: _Var, owner: str) -> Any:
        """Translate one connection var, warning about templates fleetdeck cannot evaluate."""
        value = var.value
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            if key == "address" and _INVENTORY_HOSTNAME.search(value) and "{%" not in value:
                templated = _INVENTORY_HOSTNAME.sub("{name}", value)
                if "{{" not in templated:
                    return templated
            self.warnings.append(f"{self._where(var)}: {owner}: {name} is a Jinja template, ignored")
            return None
        if key == "port":
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                raise InventoryImportError(
                    f"{owner}: {name} must be a port number, got {value!r}", self.inventory.path, var.line
                )
            return value
        if value is None or isinstance(value, list | dict):
            self.warnings.append(f"{self._where(var)}: {owner}: {name} has no usable value, ignored")
            return None
        text = str(value)
        if key == "transport":
            return _TRANSPORTS.get(text.lower(), _Unsupported(text))
        return text

    def _where(self, var: _Var) -> str:
        """Locate a variable for a warning."""
        return location(self.inventory.path, var.line)

    def _plain_value(self, var: _Var, name: str, owner: str) -> VarValue | None:
        """Coerce a variable into the scalar types fleetdeck vars hold, or explain why it cannot be."""
        value = var.value
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, str | int | float | bool):
            return value
        kind = "null" if value is None else "a list" if isinstance(value, list) else "a mapping"
        self.warnings.append(
            f"{self._where(var)}: {owner}: variable {name} is {kind}; fleetdeck vars hold only scalars, skipped"
        )
        return None


def _translate(inventory: _Inventory) -> ImportResult:
    """Run the translation; a function so the parsers stay independent of it."""
    return _Translator(inventory).translate()
