"""Turn pydantic validation errors into :class:`ConfigIssue` values worded for people.

Each message says what was expected and what was found, e.g.
``hosts.toml: hosts.web01.port: expected an integer 1-65535, got "ssh"``, and unknown keys come with
the list of keys that are allowed there (and a "did you mean" when one is close).
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from fleetdeck.core.errors import ConfigIssue, describe_value, format_key_path

_TYPE_WORDS = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "float_type": "a number",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Walk the model along ``loc`` (minus the unknown key) and list the keys allowed there."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                # A free-form key (host name, task name): move into the dict's value type.
                continue
            current = _inner_model(field.annotation)
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    """Find the BaseModel inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _message(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "fleetdeck" or kind.startswith("value_error"):
        msg = error["msg"]
        return msg.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        allowed = _allowed_keys(model, tuple(error["loc"]))
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        listing = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key{hint}{listing}"
    if kind == "missing":
        return "missing required key"
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", "")).replace("'", '"')
        return f"expected one of {expected}, got {describe_value(value)}"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {describe_value(value)}"
    return f"{error['msg']}, got {describe_value(value)}"


def issues_from_validation(exc: ValidationError, file: str, model: type[BaseModel]) -> list[ConfigIssue]:
    """One issue per pydantic error, key paths rendered as in the TOML file."""
    issues: list[ConfigIssue] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False):
        # Pydantic appends validator names for some wrapped types; keep only real keys and indexes.
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = format_key_path(loc)
        msg = _message(error, model)
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        issues.append(ConfigIssue(file, path, msg))
    return issues
