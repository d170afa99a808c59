"""Field types shared by the config schemas, each with an error message written for people.

Pydantic's own messages ("Input should be a valid integer") do not say what a config key accepts, so
the scalar types here validate themselves and raise messages of the form ``expected <what>, got <value>``.
Strings and booleans keep pydantic's strict validation; :mod:`fleetdeck.core.config.messages` words them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from fleetdeck.core.errors import describe_value

ScalarValue = str | int | float | bool


def _fail(expected: str, value: object) -> PydanticCustomError:
    return PydanticCustomError(
        "fleetdeck", "expected {expected}, got {got}", {"expected": expected, "got": describe_value(value)}
    )


def int_between(low: int, high: int | None = None) -> BeforeValidator:
    """An integer in ``[low, high]``; TOML strings such as ``"22"`` are rejected, not coerced."""
    expected = f"an integer {low}-{high}" if high is not None else f"an integer >= {low}"

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(expected, value)
        if value < low or (high is not None and value > high):
            raise _fail(expected, value)
        return value

    return BeforeValidator(check)


def positive_seconds(value: Any) -> float:
    """A duration in seconds: a number greater than zero."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail("a number of seconds > 0", value)
    return float(value)


def non_negative_seconds(value: Any) -> float:
    """A duration in seconds that may be zero (retry delays)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _fail("a number of seconds >= 0", value)
    return float(value)


def scalar(value: Any) -> ScalarValue:
    """A variable value: string, integer, float or boolean (no tables or arrays)."""
    if isinstance(value, str | int | float | bool):
        return value
    raise _fail("a string, number or boolean", value)


def count_or_percent(value: Any) -> int | str:
    """A batch size or failure budget: a whole number of hosts or ``"N%"`` with 0 < N <= 100."""
    expected = 'a number of hosts or a percentage such as "25%"'
    if isinstance(value, bool):
        raise _fail(expected, value)
    if isinstance(value, int):
        if value < 0:
            raise _fail(expected, value)
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value)
        if match and 0 < float(match.group(1)) <= 100:
            return f"{match.group(1)}%"
    raise _fail(expected, value)


def regex(value: Any) -> str:
    """A regular expression that compiles."""
    if not isinstance(value, str):
        raise _fail("a regular expression string", value)
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "fleetdeck",
            "invalid regular expression {got}: {reason}",
            {"got": describe_value(value), "reason": str(exc)},
        ) from None
    return value


Port = Annotated[int, int_between(1, 65535)]
Seconds = Annotated[float, BeforeValidator(positive_seconds)]
DelaySeconds = Annotated[float, BeforeValidator(non_negative_seconds)]
Scalar = Annotated[ScalarValue, BeforeValidator(scalar)]
CountOrPercent = Annotated[int | str, BeforeValidator(count_or_percent)]
Regex = Annotated[str, BeforeValidator(regex)]
Retries = Annotated[int, int_between(0, 100)]
