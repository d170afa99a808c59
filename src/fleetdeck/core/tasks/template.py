"""The placeholder language of task commands: ``{param}``, ``{host}``, ``{vars.NAME}``.

Shell text is left alone wherever it cannot be a placeholder: ``${VAR}`` is the shell's, and braces
whose content is not a plain identifier (``awk '{print $1}'``, ``{ a; b; }``) are literal. To write a
literal ``{name}``, double the braces: ``{{name}}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?"
_TOKEN = re.compile(r"\{\{(" + _IDENT + r")\}\}|(?<!\$)\{(" + _IDENT + r")\}")

HOST_BUILTINS = ("host", "address", "user", "port")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A placeholder found in a template, with its position for error messages."""

    name: str
    start: int


def placeholders(template: str) -> list[Placeholder]:
    """Every placeholder in ``template`` in order of appearance."""
    return [Placeholder(m.group(2), m.start()) for m in _TOKEN.finditer(template) if m.group(2)]


def substitute(template: str, resolve: Callable[[str], str]) -> str:
    """Replace each placeholder with ``resolve(name)``; ``{{name}}`` becomes a literal ``{name}``."""

    def repl(match: re.Match[str]) -> str:
        if match.group(1):
            return "{" + match.group(1) + "}"
        return resolve(match.group(2))

    return _TOKEN.sub(repl, template)
