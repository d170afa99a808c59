"""The host selector language behind every ``-t`` option.

A selector such as ``@web&@prod,!web03`` or ``db[01-04],tag:role=cache`` picks hosts from the
inventory with Ansible pattern semantics and ClusterShell node-set syntax: terms separated by
``,`` or ``:`` are unioned, ``&`` terms intersect and ``!`` terms exclude. Mistakes fail loudly
with a message naming the offending part, because a selector that silently matched the wrong
hosts would run commands on them. The module only needs name, groups and tags from each host,
so it works on any inventory type through the :class:`Selectable` protocol.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fleetdeck.core.nodeset import NodeSetError, expand, fold, natural_key

__all__ = ["Selectable", "SelectorError", "select"]

_TERM_BREAKS = ",:&!"
_OPERATORS = "&!"
_CLOSERS = {"(": ")", "{": "}"}
_MAX_LISTED_GROUPS = 20


class Selectable(Protocol):
    """What the selector needs to know about a host; inventory hosts satisfy it as they are."""

    @property
    def name(self) -> str:
        """Unique host name."""

    @property
    def groups(self) -> tuple[str, ...]:
        """Every group the host is in, parents included, so ``@parent`` needs no tree walk."""

    @property
    def tags(self) -> Mapping[str, str]:
        """Free-form labels matched by ``tag:key=value`` terms."""


class SelectorError(ValueError):
    """A selector that is malformed or names hosts or groups that do not exist."""


@dataclass(frozen=True, slots=True)
class _Term:
    """One term of a selector: its operator (``""``, ``&`` or ``!``) and its pattern text."""

    op: str
    text: str


NamedSets = Callable[[str], Collection[str] | None]
"""Looks up a named host set such as ``last.failed`` (results of earlier runs); None when unknown."""


def select(
    expr: str,
    hosts: Sequence[Selectable],
    known_groups: Collection[str],
    named_sets: NamedSets | None = None,
) -> list[str]:
    """Return the names of the hosts that ``expr`` selects, in inventory order.

    Terms are separated by top-level ``,`` or ``:`` (commas inside ``[...]`` belong to node
    sets); a term may start with ``&`` (intersect) or ``!`` (exclude), and ``&``/``!`` also start
    a new term without a separator (``@web&@prod!web03``). The result is the union of the plain
    terms, or every host if there are none, then intersected with each ``&`` term, minus each
    ``!`` term. A term is one of:

    - ``all`` or ``*``: every host;
    - ``web01``: that host, which must exist;
    - ``web[01-20,30]``: a node set whose hosts must all exist;
    - ``web*`` / ``db?``: a glob on host names, which may match nothing;
    - ``@web``: the hosts of a group, which must exist (``@web*`` globs over group names);
    - ``tag:key=value`` (value may be a glob) or ``tag:key`` (host has the tag);
    - ``~regex``: names where the regex matches anywhere (``re.search``);
    - ``@last.failed``, ``@RUN.ok``: a named set from ``named_sets`` (hosts of earlier runs).

    Args:
        expr: The selector text.
        hosts: The inventory to select from; its order is the order of the result.
        known_groups: Every group that exists, including empty ones, so that selecting an empty
            group is not mistaken for a typo.
        named_sets: Resolves ``@name.status`` terms that are not groups (run result sets).

    Raises:
        SelectorError: if the selector is empty or malformed, or names an unknown host or group.
    """
    terms = _split_terms(expr)
    if not terms:
        raise SelectorError("empty selector: give hosts, node sets, @groups, tag:key=value, ~regex or all")
    resolver = _Resolver(expr, hosts, known_groups, named_sets)
    union: set[int] | None = None
    intersections: list[set[int]] = []
    exclusions: list[set[int]] = []
    # Resolve in written order so the first mistake in the text is the one reported.
    for term in terms:
        matched = resolver.resolve(term.text)
        if term.op == "&":
            intersections.append(matched)
        elif term.op == "!":
            exclusions.append(matched)
        elif union is None:
            union = matched
        else:
            union |= matched
    selected = union if union is not None else resolver.everything()
    for matched in intersections:
        selected &= matched
    for matched in exclusions:
        selected -= matched
    names = resolver.names
    return list(dict.fromkeys(names[index] for index in sorted(selected)))


def _split_terms(expr: str) -> list[_Term]:
    """Cut a selector into terms at top-level separators and operators.

    Brackets protect node-set commas. Regex terms also protect ``(...)``, ``{...}``, character
    classes and backslash escapes, so ``~^(web|db)0{1,2}`` stays whole. The colon of a
    ``tag:`` prefix is part of the term, not a separator.
    """
    terms: list[_Term] = []
    op = ""
    op_at = -1
    start = 0
    depth = 0
    opened_at = -1
    index = 0
    while index < len(expr):
        char = expr[index]
        if char == "~" and depth == 0 and not expr[start:index].strip():
            index = _skip_regex(expr, index + 1)
            continue
        if char == "[":
            if depth == 0:
                opened_at = index
            depth += 1
        elif char == "]":
            if depth == 0:
                raise SelectorError(
                    f'unbalanced brackets in selector "{expr}": "]" at position {index} has no matching "["'
                )
            depth -= 1
        elif depth == 0 and char in _TERM_BREAKS:
            text = expr[start:index].strip()
            if char == ":" and text == "tag":
                index += 1
                continue
            _add_term(terms, expr, op, op_at, text)
            op, op_at = (char, index) if char in _OPERATORS else ("", -1)
            start = index + 1
        index += 1
    if depth:
        raise SelectorError(f'unbalanced brackets in selector "{expr}": "[" at position {opened_at} is never closed')
    _add_term(terms, expr, op, op_at, expr[start:].strip())
    return terms


def _add_term(terms: list[_Term], expr: str, op: str, op_at: int, text: str) -> None:
    """Record a finished term; an operator with nothing after it is an error."""
    if text:
        terms.append(_Term(op, text))
    elif op:
        raise SelectorError(
            f'dangling "{op}" at position {op_at} in selector "{expr}": expected a host pattern after it'
        )
    # An empty term after a plain separator ("web01,") is tolerated, as Ansible does.


def _skip_regex(expr: str, index: int) -> int:
    """Return where the regex starting at ``index`` ends: the next unprotected separator.

    Unbalanced groups just run to the end of the selector; ``re.compile`` then reports them
    with a precise reason.
    """
    stack: list[str] = []
    class_first = -1
    in_class = False
    while index < len(expr):
        char = expr[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            # A "]" right after "[" or "[^" is a literal member, not the end of the class.
            if char == "]" and index != class_first:
                in_class = False
        elif char == "[":
            in_class = True
            class_first = index + 2 if expr.startswith("^", index + 1) else index + 1
        elif char in _CLOSERS:
            stack.append(_CLOSERS[char])
        elif stack and char == stack[-1]:
            stack.pop()
        elif not stack and char in _TERM_BREAKS:
            return index
        index += 1
    return len(expr)


class _Resolver:
    """Turns single terms into sets of host indexes, with lookup tables built once per call."""

    def __init__(
        self,
        expr: str,
        hosts: Sequence[Selectable],
        known_groups: Collection[str],
        named_sets: NamedSets | None = None,
    ) -> None:
        self._expr = expr
        self._named_sets = named_sets
        self._hosts = hosts
        self.names = [host.name for host in hosts]
        self._index: dict[str, int] = {}
        for position, name in enumerate(self.names):
            self._index.setdefault(name, position)
        self._known_groups = known_groups
        self._members: dict[str, set[int]] | None = None

    def everything(self) -> set[int]:
        """All host indexes; a fresh set, since callers narrow it in place."""
        return set(range(len(self.names)))

    def resolve(self, text: str) -> set[int]:
        """Return the indexes of the hosts one term's pattern matches."""
        if text in ("all", "*"):
            return self.everything()
        if text.startswith("@"):
            return self._groups(text)
        if text.startswith("tag:"):
            return self._tag(text)
        if text.startswith("~"):
            return self._regex(text)
        return {self._index[name] for name in self._match(text, self._index, "host")}

    def _groups(self, text: str) -> set[int]:
        """Hosts in the groups a ``@name`` / ``@glob`` / ``@nodeset`` term names."""
        pattern = text[1:].strip()
        if not pattern:
            raise SelectorError(f'empty group name after "@" in selector "{self._expr}"')
        if self._named_sets is not None and "." in pattern:
            named = self._named_sets(pattern)
            if named is not None:
                # Hosts removed from the inventory since that run are simply not selected.
                return {self._index[n] for n in named if n in self._index}
        members = self._group_members()
        matched: set[int] = set()
        for group in self._match(pattern, members, "group"):
            matched |= members[group]
        return matched

    def _group_members(self) -> dict[str, set[int]]:
        """Map every group, known or seen on a host, to its host indexes; built on first use."""
        if self._members is None:
            members: dict[str, set[int]] = {group: set() for group in self._known_groups}
            for position, host in enumerate(self._hosts):
                for group in host.groups:
                    members.setdefault(group, set()).add(position)
            self._members = members
        return self._members

    def _known_groups_hint(self, members: Mapping[str, object]) -> str:
        if not members:
            return " (no groups are defined)"
        groups = sorted(members, key=natural_key)
        listed = ", ".join(groups[:_MAX_LISTED_GROUPS])
        if len(groups) > _MAX_LISTED_GROUPS:
            listed += f" and {len(groups) - _MAX_LISTED_GROUPS} more"
        return f" (known groups: {listed})"

    def _match(self, pattern: str, known: Mapping[str, object], noun: str) -> list[str]:
        """Resolve a name, glob or node set against ``known`` names (hosts or groups).

        Globs may match nothing, since they describe a shape rather than promise a host; exact
        names and node sets must all exist, since a typo there would silently shrink the run.
        """
        if "*" in pattern or "?" in pattern:
            glob = re.compile(fnmatch.translate(pattern))
            return [name for name in known if glob.match(name)]
        if "[" in pattern or "]" in pattern:
            try:
                wanted = expand(pattern)
            except NodeSetError as err:
                raise SelectorError(f'bad node set "{pattern}" in selector "{self._expr}": {err.reason}') from err
        else:
            wanted = [pattern]
        missing = [name for name in wanted if name not in known]
        hint = self._known_groups_hint(known) if missing and noun == "group" else ""
        if len(missing) == 1:
            raise SelectorError(f'unknown {noun} "{missing[0]}" in selector "{self._expr}"{hint}')
        if missing:
            raise SelectorError(f'unknown {noun}s {fold(missing)} in selector "{self._expr}"{hint}')
        return wanted

    def _tag(self, text: str) -> set[int]:
        """Hosts whose tag matches ``tag:key=value`` (value may be a glob) or that have ``tag:key``."""
        key, has_value, value = text[len("tag:") :].partition("=")
        key = key.strip()
        if not key:
            raise SelectorError(f'empty tag key in "{text}" in selector "{self._expr}"')
        if not has_value:
            return {position for position, host in enumerate(self._hosts) if key in host.tags}
        value = value.strip()
        glob = re.compile(fnmatch.translate(value)) if any(char in value for char in "*?[") else None
        matched: set[int] = set()
        for position, host in enumerate(self._hosts):
            actual = host.tags.get(key)
            if actual is not None and (glob.match(actual) if glob else actual == value):
                matched.add(position)
        return matched

    def _regex(self, text: str) -> set[int]:
        """Hosts whose name the ``~regex`` matches anywhere."""
        source = text[1:]
        if not source:
            raise SelectorError(f'empty regex after "~" in selector "{self._expr}"')
        try:
            regex = re.compile(source)
        except re.error as err:
            raise SelectorError(f'bad regex "{text}" in selector "{self._expr}": {err}') from err
        return {position for position, name in enumerate(self.names) if regex.search(name)}
