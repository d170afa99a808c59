"""Typed task parameters: parse values given as text (``-p NAME=VALUE``) and check every rule.

Errors name the parameter and the rule it broke, e.g.
``param "mount": "var" does not match pattern ^/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleetdeck.core.errors import UsageError, describe_value

if TYPE_CHECKING:
    from fleetdeck.core.tasks.model import Param, Task

ParamValue = str | int | bool

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
ENV_PREFIX = "FLEETDECK_PARAM_"
SECRET_ENV_PREFIX = "FLEETDECK_SECRET_"


class ParamError(UsageError):
    """A parameter value is missing, unknown or breaks one of its rules."""


@dataclass(frozen=True, slots=True)
class BoundParams:
    """Validated parameter values, with the names of the secret ones (masked everywhere)."""

    values: Mapping[str, ParamValue]
    secrets: frozenset[str]

    def masked(self) -> dict[str, ParamValue]:
        """Values safe to print, log or store: secrets replaced by ``***``."""
        return {k: ("***" if k in self.secrets else v) for k, v in self.values.items()}

    def secret_values(self) -> list[str]:
        """The secret values themselves, for masking them in output."""
        return [str(self.values[k]) for k in sorted(self.secrets) if str(self.values[k])]


def check_value(param: Param, value: object) -> ParamValue:
    """Validate one value (text from the command line or a typed TOML default) against ``param``.

    Raises:
        ValueError: with a message naming the rule that was broken (without the param name).
    """
    kind = param.type
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"expected an integer, got {describe_value(value)}")
        if isinstance(value, str):
            try:
                value = int(value.strip(), 10)
            except ValueError:
                raise ValueError(f"expected an integer, got {describe_value(value)}") from None
        if not isinstance(value, int):
            raise ValueError(f"expected an integer, got {describe_value(value)}")
        if param.min is not None and value < param.min:
            raise ValueError(f"{value} is below the minimum {param.min}")
        if param.max is not None and value > param.max:
            raise ValueError(f"{value} is above the maximum {param.max}")
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {describe_value(value)}")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a string, got {describe_value(value)}")
    text = str(value)
    if kind == "choice":
        allowed = [str(c) for c in param.choices]
        if text not in allowed:
            shown = "<secret>" if param.type == "secret" else describe_value(text)
            raise ValueError(f"{shown} is not one of: {', '.join(allowed)}")
        return text
    if "\x00" in text:
        raise ValueError("contains a NUL byte")
    if param.pattern is not None and not re.search(param.pattern, text):
        shown = "the value" if kind == "secret" else describe_value(text)
        raise ValueError(f"{shown} does not match pattern {param.pattern}")
    return text


def env_name(param: str, secret: bool) -> str:
    """The environment variable a parameter's value may come from (and, for secrets, its name on the host)."""
    return (SECRET_ENV_PREFIX if secret else ENV_PREFIX) + param.upper().replace("-", "_")


def parse_assignments(items: list[str]) -> dict[str, str]:
    """Split ``NAME=VALUE`` items from the command line; a repeated name is an error."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParamError(f'bad parameter "{item}": expected NAME=VALUE')
        if name in out:
            raise ParamError(f'parameter "{name}" given twice')
        out[name] = value
    return out


def bind_params(
    task: Task,
    given: Mapping[str, str],
    env: Mapping[str, str] | None = None,
    *,
    allow_missing_secrets: bool = False,
) -> BoundParams:
    """Check the given values against the task's parameters and fill in defaults.

    Values may also come from the environment as ``FLEETDECK_PARAM_<NAME>`` (upper-cased, ``-`` as
    ``_``); secrets as ``FLEETDECK_SECRET_<NAME>``, never in a file and not in the shell history.
    All problems are reported together in one :class:`ParamError`.

    Args:
        task: The task whose parameters to bind.
        given: Values from the command line or a form, as text.
        env: The environment to read ``FLEETDECK_PARAM_*``/``FLEETDECK_SECRET_*`` from (default ``os.environ``).
        allow_missing_secrets: For dry runs: a missing secret becomes a placeholder.
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    for name in given:
        if name not in task.params:
            takes = ", ".join(task.params) or "no parameters"
            problems.append(f'unknown param "{name}" (task {task.name} takes: {takes})')
    values: dict[str, ParamValue] = {}
    for name, param in task.params.items():
        raw: object
        env_key = env_name(name, param.type == "secret")
        if name in given:
            raw = given[name]
        elif env_key in env:
            raw = env[env_key]
        elif param.default is not None:
            raw = param.default
        elif not param.required:
            values[name] = False if param.type == "bool" else ""
            continue
        elif param.type == "secret" and allow_missing_secrets:
            values[name] = "<secret>"
            continue
        else:
            problems.append(
                f'missing required param "{name}" ({param.describe()}); give -p {name}=VALUE or set {env_key}'
            )
            continue
        try:
            values[name] = check_value(param, raw)
        except ValueError as exc:
            problems.append(f'param "{name}": {exc}')
    if problems:
        raise ParamError("; ".join(problems) if len(problems) == 1 else "\n".join(problems))
    secrets = frozenset(n for n, p in task.params.items() if p.type == "secret")
    return BoundParams(values, secrets)
