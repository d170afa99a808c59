"""Import hosts from an OpenSSH client config such as ``~/.ssh/config``.

Every concrete alias on a ``Host`` line becomes a fleetdeck host, and its settings are resolved the way
``ssh`` itself resolves them: the file (with its ``Include``s spliced in) is scanned top to bottom, every
``Host`` block whose patterns match the alias applies, and the first value obtained for each parameter wins,
so ``Host *`` blocks, pattern blocks and ordering all keep their meaning. Settings every host ends up sharing
are then hoisted into ``[defaults]``. Only ``HostName``, ``User``, ``Port``, ``IdentityFile``, ``ProxyJump``,
``UserKnownHostsFile``, ``StrictHostKeyChecking`` and ``ConnectTimeout`` have fleetdeck equivalents;
everything else, ``Match`` blocks and host patterns are reported as warnings with their file and line.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetdeck.core.importers import ImportResult, InventoryImportError, assemble, location, read_text

__all__ = ["import_ssh_config"]

#: OpenSSH refuses to nest Includes deeper than this (READCONF_MAX_DEPTH); so do we.
_MAX_INCLUDE_DEPTH = 16
#: How many affected hosts a warning lists before summarising the rest.
_HOSTS_SHOWN = 3

#: Keywords with a fleetdeck equivalent, mapped to the resolution slot they fill. ProxyJump and
#: ProxyCommand share a slot because ssh lets whichever comes first suppress the other.
_SLOTS: dict[str, str] = {
    "hostname": "address",
    "user": "user",
    "port": "port",
    "identityfile": "identity_file",
    "userknownhostsfile": "known_hosts",
    "stricthostkeychecking": "host_key_policy",
    "connecttimeout": "connect_timeout",
    "proxyjump": "proxy",
    "proxycommand": "proxy",
}
#: Keywords that take exactly one argument; ssh rejects extra ones, so we do too.
_SINGLE_ARGUMENT = frozenset(_SLOTS) - {"userknownhostsfile", "proxycommand"}
_HOST_KEY_POLICIES: dict[str, str] = {
    "yes": "strict",
    "true": "strict",
    # "ask" prompts only when a terminal is present; unattended it refuses unknown keys, i.e. strict.
    "ask": "strict",
    "accept-new": "accept-new",
    "no": "strict",
    "false": "strict",
    "off": "strict",
}
_DISCARDING_KNOWN_HOSTS = frozenset({"none", "/dev/null"})
_KEYWORD = re.compile(r"\s*([^\s=]+)\s*(?:=\s*)?(.*)")


@dataclass(frozen=True)
class _Block:
    """The condition a ``Host`` (or ``Match``) line places on the directives that follow it.

    ``patterns`` is ``None`` for blocks that never apply: ``Match`` blocks, which need runtime facts (the
    local user, the network, the output of commands) that an import cannot know.
    """

    patterns: tuple[str, ...] | None

    def matches(self, alias: str) -> bool:
        """Apply ssh's rule: some positive pattern matches and no negated (``!``) pattern does."""
        if self.patterns is None:
            return False
        matched = False
        for pattern in self.patterns:
            if pattern.startswith("!"):
                if _pattern_matches(pattern[1:], alias):
                    return False
            elif _pattern_matches(pattern, alias):
                matched = True
        return matched


_NEVER = _Block(None)
_EVERYWHERE = _Block(("*",))


@dataclass(frozen=True)
class _Directive:
    """One supported ``Keyword value`` line together with the blocks that must match for it to apply."""

    slot: str
    keyword: str
    value: Any
    where: str
    conditions: tuple[_Block, ...]
    order: int

    def applies_to(self, alias: str) -> bool:
        """Tell whether ssh would consider this line when connecting to ``alias``."""
        return all(block.matches(alias) for block in self.conditions)


@dataclass(frozen=True)
class _Policy:
    """A parsed ``StrictHostKeyChecking`` value and whether fleetdeck had to tighten it."""

    policy: str
    tightened: bool


class _Notes:
    """Warnings raised while resolving hosts, merged per source line so one line warns once."""

    def __init__(self) -> None:
        self._hosts: dict[tuple[int, str, str], list[str]] = {}

    def add(self, directive: _Directive, message: str, host: str) -> None:
        """Record that ``message`` about ``directive``'s line affected ``host``."""
        hosts = self._hosts.setdefault((directive.order, directive.where, message), [])
        if host not in hosts:
            hosts.append(host)

    def render(self, host_count: int) -> list[str]:
        """Format notes in file order with the hosts they affected, trimmed so huge fleets stay readable."""
        rendered = []
        for (_, where, message), hosts in sorted(self._hosts.items()):
            if len(hosts) == host_count > 1:
                shown = "all hosts"
            elif len(hosts) > _HOSTS_SHOWN:
                shown = f"hosts: {', '.join(hosts[:_HOSTS_SHOWN])} and {len(hosts) - _HOSTS_SHOWN} more"
            else:
                shown = f"hosts: {', '.join(hosts)}"
            rendered.append(f"{where}: {message} ({shown})")
        return rendered


class _ConfigReader:
    """Flattens a config and its Includes into directives, collecting aliases and parse-time warnings."""

    def __init__(self, ssh_dir: Path) -> None:
        self.ssh_dir = ssh_dir
        self.directives: list[_Directive] = []
        self.aliases: dict[str, str] = {}
        self.warnings: list[str] = []

    def read(
        self,
        path: Path,
        conditions: tuple[_Block, ...] = (),
        stack: tuple[Path, ...] = (),
    ) -> None:
        """Read one file; ``conditions`` are the blocks enclosing the Include that pulled it in."""
        stack = (*stack, path.resolve())
        block: _Block | None = None
        for number, raw in enumerate(read_text(path).splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = location(path, number)
            keyword, args = _split_line(line, path, number)
            lowered = keyword.lower()
            if lowered == "host":
                # ssh accepts comma-separated pattern lists as well as separate arguments.
                block = self._host_block([part for arg in args for part in arg.split(",") if part], where)
                continue
            if lowered == "match":
                block = self._match_block(args, line, where)
                continue
            active = (*conditions, block) if block is not None else conditions
            if _NEVER in active:
                continue
            if lowered == "include":
                self._include(args, path, number, active, stack)
            elif lowered in _SLOTS:
                directive = _directive(lowered, keyword, args, active, path, number, len(self.directives))
                self.directives.append(directive)
            else:
                self.warnings.append(f"{where}: {keyword} has no fleetdeck equivalent, ignored")

    def _host_block(self, patterns: list[str], where: str) -> _Block:
        """Register the concrete aliases of a ``Host`` line and return the block it opens."""
        for pattern in patterns:
            if pattern.startswith("!") or pattern == "*":
                continue
            if any(char in pattern for char in "*?"):
                self.warnings.append(
                    f'{where}: Host "{pattern}" is a pattern, skipped as a host; '
                    "its settings still apply to the hosts it matches"
                )
            elif any(char in pattern for char in "[]"):
                self.warnings.append(
                    f'{where}: Host "{pattern}" contains brackets, which fleetdeck reads as a node set; skipped'
                )
            else:
                self.aliases.setdefault(pattern, where)
        return _Block(tuple(patterns))

    def _match_block(self, criteria: list[str], line: str, where: str) -> _Block:
        """Open a ``Match`` block; only ``Match all`` can be honoured without runtime facts."""
        if [criterion.lower() for criterion in criteria] == ["all"]:
            return _EVERYWHERE
        self.warnings.append(f"{where}: {line}: Match blocks depend on runtime conditions; block skipped")
        return _NEVER

    def _include(
        self, args: list[str], path: Path, number: int, active: tuple[_Block, ...], stack: tuple[Path, ...]
    ) -> None:
        """Splice in included files, resolving relative names against ``~/.ssh`` as ssh does."""
        where = location(path, number)
        for arg in args:
            pattern = Path(arg).expanduser()
            if not pattern.is_absolute():
                pattern = self.ssh_dir / pattern
            # glob(3) semantics (sorted, no dotfiles) match what ssh does, unlike Path.glob.
            matches = sorted(glob.glob(str(pattern)))  # noqa: PTH207
            if not matches:
                self.warnings.append(f'{where}: Include "{arg}" matched no files')
            for match in map(Path, matches):
                if match.resolve() in stack:
                    self.warnings.append(f"{where}: Include of {match} would recurse, skipped")
                elif len(stack) > _MAX_INCLUDE_DEPTH:
                    raise InventoryImportError(f"Include nested deeper than {_MAX_INCLUDE_DEPTH} levels", path, number)
                elif match.is_file():
                    self.read(match, active, stack)
                else:
                    self.warnings.append(f"{where}: Include of {match}: not a regular file, skipped")


def import_ssh_config(path: Path) -> ImportResult:
    """Import every concrete ``Host`` alias of an OpenSSH client config.

    Args:
        path: The config file. Relative ``Include`` paths resolve against ``~/.ssh`` regardless of where
            this file lives, because that is what ``ssh`` does with a user config.

    Returns:
        The hosts, with settings shared by all of them hoisted into ``[defaults]``.

    Raises:
        InventoryImportError: A file cannot be read, or a line is malformed (unterminated quote, missing
            argument, bad port or timeout, unknown ``StrictHostKeyChecking`` value).
    """
    reader = _ConfigReader(Path("~/.ssh").expanduser())
    reader.read(path)
    notes = _Notes()
    hosts = {alias: _resolve(alias, reader.directives, reader.aliases, notes) for alias in reader.aliases}
    return ImportResult(
        data=assemble(hosts),
        warnings=reader.warnings + notes.render(len(hosts)),
        host_count=len(hosts),
    )


def _resolve(alias: str, directives: Iterable[_Directive], aliases: dict[str, str], notes: _Notes) -> dict[str, Any]:
    """Compute one host's settings with ssh's first-obtained-value-wins rule."""
    first: dict[str, _Directive] = {}
    identities: list[_Directive] = []
    for directive in directives:
        if not directive.applies_to(alias):
            continue
        if directive.slot == "identity_file":
            # ssh accumulates IdentityFile instead of keeping the first; fleetdeck holds one key.
            identities.append(directive)
        else:
            first.setdefault(directive.slot, directive)

    settings: dict[str, Any] = {}
    for slot in ("user", "port", "connect_timeout"):
        if slot in first:
            settings[slot] = first[slot].value
    if "address" in first:
        settings["address"] = _expand_hostname(first["address"].value, alias)
    if identities:
        settings["identity_file"] = identities[0].value
        for extra in identities[1:]:
            notes.add(
                extra,
                f"IdentityFile {extra.value} ignored: fleetdeck uses one key per host, "
                f"the first that applies is at {identities[0].where}",
                alias,
            )
    if "known_hosts" in first:
        directive = first["known_hosts"]
        files: tuple[str, ...] = directive.value
        if files[0].lower() in _DISCARDING_KNOWN_HOSTS:
            notes.add(directive, f"UserKnownHostsFile {files[0]} throws host keys away; not imported", alias)
        else:
            settings["known_hosts"] = files[0]
            if len(files) > 1:
                notes.add(directive, f"only the first UserKnownHostsFile ({files[0]}) is used", alias)
    if "host_key_policy" in first:
        directive = first["host_key_policy"]
        policy: _Policy = directive.value
        settings["host_key_policy"] = policy.policy
        if policy.tightened:
            notes.add(
                directive,
                "fleetdeck never disables host key checking; StrictHostKeyChecking imported as strict",
                alias,
            )
    if "proxy" in first:
        jump = _jump(first["proxy"], alias, aliases, notes)
        if jump:
            settings["jump"] = jump
    return settings


def _jump(directive: _Directive, alias: str, aliases: dict[str, str], notes: _Notes) -> str | None:
    """Translate the winning ProxyJump/ProxyCommand into a fleetdeck jump host, or explain why not."""
    value: str = directive.value
    if value.lower() == "none":
        return None
    if directive.keyword == "proxycommand":
        notes.add(directive, "ProxyCommand has no fleetdeck equivalent, ignored", alias)
    elif "," in value:
        notes.add(directive, f"ProxyJump {value} has several hops; fleetdeck jumps through one host", alias)
    elif any(char in value for char in "@:/"):
        notes.add(
            directive,
            f"ProxyJump {value} sets a user or port; name a Host alias instead so fleetdeck can jump",
            alias,
        )
    elif value not in aliases:
        notes.add(directive, f"ProxyJump {value} is not a Host alias in this config, ignored", alias)
    elif value == alias:
        notes.add(directive, f"ProxyJump {value} would jump through the host itself, ignored", alias)
    else:
        return value
    return None


def _expand_hostname(template: str, alias: str) -> str:
    """Expand the ``%h`` and ``%%`` tokens ssh allows in ``HostName``."""
    return re.sub(r"%([%h])", lambda match: alias if match.group(1) == "h" else "%", template)


def _directive(
    lowered: str,
    keyword: str,
    args: list[str],
    conditions: tuple[_Block, ...],
    path: Path,
    number: int,
    order: int,
) -> _Directive:
    """Validate and convert a supported line's arguments, raising where ssh itself would refuse them."""
    if lowered in _SINGLE_ARGUMENT and len(args) > 1:
        raise InventoryImportError(f"{keyword} takes one argument, got {len(args)}", path, number)
    value: Any = args[0]
    if lowered == "port":
        value = _integer(keyword, value, path, number)
        if not 0 < value < 65536:
            raise InventoryImportError(f"{keyword} {value} is out of range", path, number)
    elif lowered == "connecttimeout":
        # ssh treats "none" and 0 alike: no timeout of its own, so fleetdeck's default applies.
        value = None if value.lower() == "none" else _integer(keyword, value, path, number) or None
    elif lowered == "userknownhostsfile":
        value = tuple(args)
    elif lowered == "proxycommand":
        value = " ".join(args)
    elif lowered == "stricthostkeychecking":
        policy = _HOST_KEY_POLICIES.get(value.lower())
        if policy is None:
            raise InventoryImportError(f"unknown {keyword} value {value!r}", path, number)
        value = _Policy(policy, tightened=value.lower() in {"no", "false", "off"})
    return _Directive(_SLOTS[lowered], lowered, value, location(path, number), conditions, order)


def _integer(keyword: str, text: str, path: Path, number: int) -> int:
    """Parse a non-negative decimal the way ssh's option parser insists on."""
    if not text.isdigit():
        raise InventoryImportError(f"{keyword} needs a number, got {text!r}", path, number)
    return int(text)


def _split_line(line: str, path: Path, number: int) -> tuple[str, list[str]]:
    """Split ``Keyword value...`` or ``Keyword=value...`` into the keyword and its arguments."""
    match = _KEYWORD.fullmatch(line)
    if match is None:
        raise InventoryImportError(f"expected 'Keyword value', got {line!r}", path, number)
    keyword, rest = match.groups()
    args = _split_arguments(rest, path, number)
    if not args:
        raise InventoryImportError(f"{keyword} is missing its argument", path, number)
    return keyword, args


def _split_arguments(text: str, path: Path, number: int) -> list[str]:
    """Tokenise arguments like ssh's ``argv_split``: quotes, backslash escapes and trailing ``#`` comments."""
    args: list[str] = []
    index, length = 0, len(text)
    while index < length:
        while index < length and text[index] in " \t":
            index += 1
        if index >= length or text[index] == "#":
            break
        token: list[str] = []
        quote = ""
        while index < length:
            char = text[index]
            following = text[index + 1] if index + 1 < length else ""
            if char == "\\" and following and (following in "'\"\\" or (not quote and following == " ")):
                token.append(following)
                index += 2
                continue
            if not quote and char in " \t":
                break
            if not quote and char in "'\"":
                quote = char
            elif quote and char == quote:
                quote = ""
            else:
                token.append(char)
            index += 1
        if quote:
            raise InventoryImportError("unterminated quote", path, number)
        args.append("".join(token))
    return args


def _pattern_matches(pattern: str, name: str) -> bool:
    """Match ssh's ``*``/``?`` wildcards case-insensitively; every other character is literal."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, name, flags=re.IGNORECASE | re.DOTALL) is not None
