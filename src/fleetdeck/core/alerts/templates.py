"""Annotation templates: ``"{host}: CPU {value:.0f}% for 5m"`` rendered with an alert's host, value and labels.

Templates use Python's ``str.format`` syntax, format specs included, but only with plain names: the
built-ins (``host``, ``value``, ``rule``, ``mount``, ``severity``) and the rule's own label names. Every
template is checked when the config loads, by parsing it and rendering it once with stand-in values, so
a typo or a spec that cannot apply (``{host:.0f}``) is a config error rather than a broken notification
at three in the morning. A missing value (``host_down`` has none, ``mount`` outside filesystem rules)
renders as ``-`` whatever the spec.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Collection, Mapping
from typing import Any, Final

BUILTINS: Final[tuple[str, ...]] = ("host", "value", "rule", "mount", "severity")
_SAMPLE: Final[dict[str, object]] = {
    "host": "web01",
    "value": 87.25,
    "rule": "Rule",
    "mount": "/",
    "severity": "warning",
}


class _Formatter(string.Formatter):
    """``str.format`` that prints a missing value as ``-`` and a bare float without a long tail."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        if value is None:
            return "-"
        if isinstance(value, float) and not format_spec:
            return f"{value:.2f}".rstrip("0").rstrip(".")
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def check_template(text: str, labels: Collection[str]) -> str | None:
    """Why ``text`` cannot be rendered, or ``None`` when it is fine.

    Args:
        text: The template.
        labels: The rule's label names, usable as placeholders next to the built-ins.
    """
    allowed = [*BUILTINS, *labels]
    try:
        fields = [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]
    except ValueError as exc:
        return f"bad template: {exc} (write {{{{ and }}}} for literal braces)"
    for name in fields:
        if not name:
            return f"empty placeholder {{}}: name one of {', '.join(allowed)}"
        if not name.isidentifier():
            return f"placeholder {{{name}}}: only plain names work ({', '.join(allowed)})"
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            return f"unknown placeholder {{{name}}}{hint}; known: {', '.join(allowed)}"
    try:
        _FORMATTER.vformat(text, (), {**dict.fromkeys(labels, "x"), **_SAMPLE})
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return f"bad template: {exc}"
    return None


def render(
    text: str,
    *,
    host: str,
    value: float | None,
    rule: str,
    mount: str | None,
    severity: str,
    labels: Mapping[str, str],
) -> str:
    """Fill in a template that :func:`check_template` accepted; falls back to the raw text if it still fails."""
    values: dict[str, object] = {
        **labels,
        "host": host,
        "value": value,
        "rule": rule,
        "mount": mount,
        "severity": severity,
    }
    try:
        return _FORMATTER.vformat(text, (), values)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return text
