"""Reading one config value of a given kind, however it was written.

Values arrive from a JSON file, from Meltano (which passes numbers as strings or as `Decimal`
depending on how a setting was set), or from YAML (dates as date objects). Each reader accepts
every faithful spelling of its kind and appends a sentence to `problems` for anything else.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Mapping
from typing import Any


def as_date(
    value: Any, key: str, problems: list[str], *, required: bool = False
) -> datetime.date | None:
    """A calendar date from `YYYY-MM-DD` (a datetime's date part is accepted too)."""
    if value is None or value == "":
        if required:
            problems.append(f"{key} is required: the first day to count, as YYYY-MM-DD")
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return datetime.date.fromisoformat(text)
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    problems.append(f"{key} must be a date written YYYY-MM-DD, got {value!r}")
    return None


def shown(value: Any) -> str:
    """A value as the user wrote it (JSON numbers arrive as `Decimal` from the SDK's reader)."""
    return str(value) if isinstance(value, decimal.Decimal) else repr(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_number(
    config: Mapping[str, Any], key: str, defaults: Mapping[str, Any], problems: list[str]
) -> float:
    """A positive number of seconds."""
    value = config.get(key, defaults[key])
    number = _number(value)
    if number is None or number <= 0:
        problems.append(f"{key} must be a number greater than 0 (seconds), got {shown(value)}")
        return float(defaults[key])
    return number


def as_int(
    config: Mapping[str, Any],
    key: str,
    defaults: Mapping[str, Any],
    problems: list[str],
    *,
    minimum: int,
) -> int:
    """A whole number no smaller than `minimum` (3, 3.0 and "3" all mean 3)."""
    value = config.get(key, defaults[key])
    number = _number(value)
    if number is None or number != int(number) or number < minimum:
        problems.append(f"{key} must be a whole number of at least {minimum}, got {shown(value)}")
        return int(defaults[key])
    return int(number)
