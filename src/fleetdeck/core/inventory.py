"""The inventory: hosts from ``hosts.toml`` resolved into :class:`Host` objects.

Resolution applies ``[defaults]`` under each host's own settings, expands node-set keys
(``web[01-20]``) into one host per name, merges several entries naming the same host (later entries
win key by key, so ``[hosts.web05]`` can adjust one host of ``web[01-20]``), walks group children so a
host in ``web`` is also in a parent ``prod``, and layers variables as Ansible does: defaults, then
groups from parent to child, then the host's own.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetdeck.core.config.schema import (
    ConnectionSettings,
    GroupEntry,
    HealthMode,
    HostKeyPolicy,
    HostsFile,
    PrometheusSettings,
    Transport,
)
from fleetdeck.core.errors import ConfigIssue, describe_value, format_key_path
from fleetdeck.core.nodeset import NodeSetError, expand, natural_key
from fleetdeck.core.selector import NamedSets, SelectorError, select

FILE = "hosts.toml"
DEFAULT_PORT = 22
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
DEFAULT_CONNECT_TIMEOUT = 10.0
_RESERVED_GROUPS = frozenset({"all"})


@dataclass(slots=True)
class Host:
    """One host with every setting resolved; what the transport and the UI work with.

    Treat it as read-only (derive variants with ``dataclasses.replace``). It is not a frozen dataclass
    because a frozen ``__init__`` sets each field through ``object.__setattr__``, which made building a
    10,000-host inventory a third slower.
    """

    name: str
    address: str
    user: str
    port: int = DEFAULT_PORT
    identity_file: str | None = None
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    host_key_policy: HostKeyPolicy = "strict"
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    jump: str | None = None
    transport: Transport = "ssh"
    health: HealthMode = "auto"
    groups: tuple[str, ...] = ()
    direct_groups: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    vars: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def is_local(self) -> bool:
        """True when commands and health run on this machine without SSH."""
        return self.transport == "local"

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``--json`` output."""
        return {
            "name": self.name,
            "address": self.address,
            "transport": self.transport,
            "user": self.user,
            "port": self.port,
            "jump": self.jump,
            "groups": list(self.groups),
            "tags": dict(self.tags),
            "vars": dict(self.vars),
        }


@dataclass(frozen=True, slots=True)
class Group:
    """A named group: its own variables and child groups, plus every host in it (children included)."""

    name: str
    vars: Mapping[str, Any]
    children: tuple[str, ...]
    hosts: tuple[str, ...]
    description: str = ""


class Inventory:
    """Resolved hosts in declaration order, with groups and selector evaluation."""

    def __init__(
        self, hosts: Sequence[Host], groups: Mapping[str, Group], prometheus: PrometheusSettings | None = None
    ) -> None:
        self.prometheus = prometheus
        self._hosts = list(hosts)
        self._by_name = {h.name: h for h in self._hosts}
        self.groups: dict[str, Group] = dict(groups)

    def __len__(self) -> int:
        return len(self._hosts)

    def __iter__(self) -> Iterator[Host]:
        return iter(self._hosts)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def hosts(self) -> list[Host]:
        """All hosts in declaration order."""
        return list(self._hosts)

    def get(self, name: str) -> Host:
        """The host called ``name``; raises :class:`KeyError` naming it when unknown."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f'unknown host "{name}"') from None

    def select(self, expr: str, named_sets: NamedSets | None = None) -> list[Host]:
        """Hosts matching a selector (``@web&@prod,!web03``); raises :class:`SelectorError`.

        ``named_sets`` resolves run result sets such as ``@last.failed``.
        """
        names = select(expr, self._hosts, self.groups.keys(), named_sets)
        return [self._by_name[n] for n in names]


def _merge(base: dict[str, Any], entry: ConnectionSettings, keep_groups: bool = True) -> None:
    """Lay ``entry``'s explicitly set keys over ``base``; groups accumulate, tags and vars merge."""
    for key in entry.model_fields_set:
        value = getattr(entry, key)
        if key in ("tags", "vars"):
            base[key] = {**base.get(key, {}), **value}
        elif key == "groups" and keep_groups:
            merged = list(base.get("groups", []))
            merged.extend(g for g in value if g not in merged)
            base["groups"] = merged
        else:
            base[key] = value


def _group_closure(groups: Mapping[str, GroupEntry], issues: list[ConfigIssue]) -> dict[str, list[str]]:
    """Map each group to its ancestors (parents first), reporting unknown children and cycles."""
    parents: dict[str, list[str]] = {name: [] for name in groups}
    for name, entry in groups.items():
        for i, child in enumerate(entry.children):
            if child not in groups:
                # A child may be a group that only hosts mention; it is created on demand.
                parents.setdefault(child, [])
            if child == name:
                issues.append(
                    ConfigIssue(
                        FILE,
                        format_key_path(["groups", name, "children", i]),
                        f'group "{name}" cannot be its own child',
                    )
                )
                continue
            parents[child].append(name)

    ancestors: dict[str, list[str]] = {}

    def walk(name: str, trail: tuple[str, ...]) -> list[str]:
        if name in ancestors:
            return ancestors[name]
        found: list[str] = []
        for parent in parents.get(name, []):
            if parent in trail:
                cycle = " -> ".join((*trail[trail.index(parent) :], parent))
                issues.append(
                    ConfigIssue(FILE, format_key_path(["groups", parent, "children"]), f"group cycle: {cycle}")
                )
                continue
            for a in [*walk(parent, (*trail, parent)), parent]:
                if a not in found:
                    found.append(a)
        ancestors[name] = found
        return found

    for name in list(parents):
        walk(name, (name,))
    return ancestors


def build_inventory(data: HostsFile) -> tuple[Inventory, list[ConfigIssue]]:
    """Resolve a validated ``hosts.toml`` into an :class:`Inventory`, collecting every problem."""
    issues: list[ConfigIssue] = []
    defaults: dict[str, Any] = {}
    _merge(defaults, data.defaults)

    merged: dict[str, dict[str, Any]] = {}
    declared_by: dict[str, str] = {}
    for key, entry in data.hosts.items():
        try:
            names = expand(key) if "[" in key else [key]
        except NodeSetError as exc:
            issues.append(ConfigIssue(FILE, format_key_path(["hosts", key]), str(exc)))
            continue
        for name in names:
            target = merged.setdefault(name, {})
            declared_by.setdefault(name, key)
            _merge(target, entry)

    for name, entry_data in merged.items():
        for group in entry_data.get("groups", []):
            if group in _RESERVED_GROUPS:
                issues.append(
                    ConfigIssue(
                        FILE,
                        format_key_path(["hosts", declared_by[name], "groups"]),
                        f'"{group}" is reserved (every host is in it)',
                    )
                )

    ancestors = _group_closure(data.groups, issues)
    local_user = _local_user()

    hosts: list[Host] = []
    members: dict[str, list[str]] = {g: [] for g in data.groups}
    by_combination: dict[tuple[str, ...], tuple[tuple[str, ...], dict[str, Any]]] = {}
    for name, own in merged.items():
        key = declared_by[name]
        settings = {**defaults}
        settings.pop("groups", None)
        _layer(settings, own)
        direct = tuple(g for g in own.get("groups", ()) if g not in _RESERVED_GROUPS)
        # Big fleets repeat a few group combinations: resolve each combination once.
        resolved = by_combination.get(direct)
        if resolved is None:
            resolved = by_combination[direct] = _resolve_groups(direct, ancestors, data.groups, defaults)
        all_groups, group_vars = resolved
        for g in all_groups:
            members.setdefault(g, []).append(name)
        own_vars = own.get("vars")
        variables = {**group_vars, **own_vars} if own_vars else dict(group_vars)

        transport: Transport = settings.get("transport") or "ssh"
        address = settings.get("address") or name
        if "{" in address:
            try:
                address = address.format(name=name)
            except (KeyError, IndexError, ValueError):
                issues.append(
                    ConfigIssue(
                        FILE,
                        format_key_path(["hosts", key, "address"]),
                        f"only {{name}} may be used in an address, got {describe_value(address)}",
                    )
                )
        jump = settings.get("jump") or None
        if transport == "local":
            jump = None
            address = settings.get("address") or "localhost"
        hosts.append(
            Host(
                name=name,
                address=address,
                user=settings.get("user") or local_user,
                port=settings.get("port") or DEFAULT_PORT,
                identity_file=settings.get("identity_file"),
                known_hosts=settings.get("known_hosts") or DEFAULT_KNOWN_HOSTS,
                host_key_policy=settings.get("host_key_policy") or "strict",
                connect_timeout=settings.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT,
                jump=jump,
                transport=transport,
                health=settings.get("health") or "auto",
                groups=all_groups,
                direct_groups=direct,
                tags=dict(settings.get("tags", {})),
                vars=variables,
                description=settings.get("description", ""),
            )
        )

    if data.prometheus is None:
        for h in hosts:
            if h.health == "prometheus":
                path = format_key_path(["hosts", declared_by[h.name], "health"])
                issues.append(ConfigIssue(FILE, path, 'health = "prometheus" needs a [prometheus] table with a url'))
                break
    by_name = {h.name: h for h in hosts}
    issues.extend(
        _check_jumps(hosts, by_name, declared_by, jump_from_defaults="jump" in data.defaults.model_fields_set)
    )

    groups: dict[str, Group] = {}
    for g in sorted(set(members) | set(ancestors), key=natural_key):
        spec = data.groups.get(g, GroupEntry())
        groups[g] = Group(g, dict(spec.vars), tuple(spec.children), tuple(members.get(g, [])), spec.description)
    groups["all"] = Group("all", dict(defaults.get("vars", {})), (), tuple(by_name), "every host")
    return Inventory(hosts, groups, data.prometheus), issues


def _resolve_groups(
    direct: tuple[str, ...],
    ancestors: Mapping[str, list[str]],
    groups: Mapping[str, GroupEntry],
    defaults: Mapping[str, Any],
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Every group a host is in (its own, then their parents) and the variables they give it.

    Variables layer as Ansible does: defaults, then groups from the most general (fewest ancestors) to
    the most specific, so a child group's value wins over its parent's.
    """
    all_groups: list[str] = []
    for g in direct:
        for a in (g, *ancestors.get(g, ())):
            if a not in all_groups:
                all_groups.append(a)
    variables = dict(defaults.get("vars", {}))
    for g in sorted(all_groups, key=lambda g: len(ancestors.get(g, ()))):
        entry = groups.get(g)
        if entry is not None:
            variables.update(entry.vars)
    return tuple(all_groups), variables


def _layer(settings: dict[str, Any], own: Mapping[str, Any]) -> None:
    for key, value in own.items():
        if key in ("tags", "vars"):
            settings[key] = {**settings.get(key, {}), **value}
        elif key != "groups":
            settings[key] = value


def _check_jumps(
    hosts: Sequence[Host],
    by_name: Mapping[str, Host],
    declared_by: Mapping[str, str],
    jump_from_defaults: bool,
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    reported: set[str] = set()
    for host in hosts:
        if host.jump is None:
            continue
        path = format_key_path(["hosts", declared_by[host.name], "jump"])
        if host.jump not in by_name:
            if host.jump not in reported:
                where = path if not jump_from_defaults else "defaults.jump"
                issues.append(ConfigIssue(FILE, where, f'unknown jump host "{host.jump}"'))
                reported.add(host.jump)
            continue
        seen = [host.name]
        hop: Host | None = host
        while hop is not None and hop.jump is not None:
            if hop.jump in seen:
                # Report a loop on the hosts that form it, not on every host that leads into it.
                if hop.jump == host.name and host.name not in reported:
                    chain = " -> ".join([*seen, hop.jump])
                    hint = ' (set jump = "" on the jump host)' if len(seen) == 1 else ""
                    issues.append(ConfigIssue(FILE, path, f"jump loop: {chain}{hint}"))
                    reported.add(host.name)
                break
            seen.append(hop.jump)
            hop = by_name.get(hop.jump)
    return issues


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"


__all__ = ["Group", "Host", "Inventory", "SelectorError", "build_inventory"]
