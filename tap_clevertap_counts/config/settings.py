"""The tap's config, checked completely before anything is sent to CleverTap.

The JSON schema in `tap.py` documents the keys for `--about` and Meltano; this module is what
enforces them, because a schema validator quotes offending values (a mistyped passcode would be
printed) and cannot check dates, time zones, uniqueness or "today". Every problem becomes one
readable sentence naming the key; values are quoted only for keys that are not secret.
"""

from __future__ import annotations

import datetime
import ipaddress
import urllib.parse
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_clevertap_counts.errors import ConfigError

from .periods import GRANULARITIES
from .queries import QuerySpec, parse_queries
from .values import as_date, as_int, as_number

REGION_HOSTS = {
    "eu1": "https://api.clevertap.com",
    "global": "https://api.clevertap.com",
    "in1": "https://in1.api.clevertap.com",
    "sg1": "https://sg1.api.clevertap.com",
    "us1": "https://us1.api.clevertap.com",
    "aps3": "https://aps3.api.clevertap.com",
    "mec1": "https://mec1.api.clevertap.com",
}

DEFAULTS: dict[str, Any] = {
    "region": "eu1",
    "timezone": "UTC",
    "lookback_days": 0,
    "poll_interval_seconds": 30,
    "poll_timeout_seconds": 3600,
    "max_concurrent_queries": 3,
    "request_timeout_seconds": 60,
    # A neighbour's backfill (another pipeline, a dashboard export) can hold the account's
    # slots for hours; a scheduled run should outwait it rather than lose the day.
    "busy_timeout_seconds": 7200,
    "backfill_with_trends": False,
    # event_counts doubles a run's API calls: counted only when the config says so, because
    # Meltano selects every stream (`*.*`) in a project that added the tap from its definition.
    "count_events": False,
}

TAP_KEYS = frozenset(
    {"account_id", "passcode", "api_url", "start_date", "end_date", "queries", *DEFAULTS}
)
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
__all__ = ["GRANULARITIES", "TAP_KEYS", "QuerySpec", "Settings", "parse_settings"]


@dataclass(frozen=True)
class Settings:
    """The config as the tap uses it: typed, defaulted, with end_date resolved."""

    account_id: str
    passcode: str = field(repr=False)
    base_url: str
    start_date: datetime.date
    end_date: datetime.date
    today: datetime.date  # in `timezone`, when the config was read: the one day not over
    timezone: str
    queries: tuple[QuerySpec, ...]
    lookback_days: int
    poll_interval_seconds: float
    poll_timeout_seconds: float
    max_concurrent_queries: int
    request_timeout_seconds: float
    busy_timeout_seconds: float
    backfill_with_trends: bool = False
    count_events: bool = False
    end_date_given: bool = True  # False: end_date is the default, yesterday in `timezone`


def _as_bool(config: Mapping[str, Any], key: str, problems: list[str]) -> bool:
    """A JSON boolean, or the text Meltano and environment variables give it."""
    value = config.get(key)
    if value is None:
        value = DEFAULTS[key]
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        problems.append(f"{key} must be true or false, got {value!r}")
        return False
    return value


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _base_url(config: Mapping[str, Any], problems: list[str]) -> str:
    region = config.get("region", DEFAULTS["region"])
    if not isinstance(region, str) or region.strip().lower() not in REGION_HOSTS:
        problems.append(
            f"region must be one of {', '.join(REGION_HOSTS)} (the account's region as in "
            f"its dashboard URL), got {region!r}"
        )
        region = DEFAULTS["region"]
    api_url = config.get("api_url")
    if api_url is None or api_url == "":
        return REGION_HOSTS[region.strip().lower()]
    parsed = urllib.parse.urlsplit(api_url) if isinstance(api_url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        problems.append(
            "api_url must be an http(s) URL such as https://api.clevertap.com, got "
            f"{_without_userinfo(api_url)!r}"
        )
        return ""
    if parsed.scheme == "http" and not is_loopback_host(parsed.hostname):
        problems.append(
            f"api_url uses plain http to {parsed.hostname}: the passcode would cross the "
            "network unencrypted; use https (plain http is allowed only for loopback hosts)"
        )
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        problems.append("api_url must not carry a query string, fragment or credentials")
    return str(api_url).rstrip("/")


def _without_userinfo(url: Any) -> Any:
    """A URL fit to quote: whatever stands before an `@` in it may be a password."""
    if not isinstance(url, str) or "@" not in url:
        return url
    scheme, _, rest = url.rpartition("://")
    return (scheme + "://" if scheme else "") + "***@" + rest.rpartition("@")[2]


def _required_string(config: Mapping[str, Any], key: str, problems: list[str]) -> str:
    """A credential: non-empty, and something an HTTP header can carry (never quoted)."""
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        shown = "missing" if value is None else f"not a non-empty string ({type(value).__name__})"
        problems.append(f"{key} is required: {shown}")
        return ""
    value = value.strip()
    if not value.isascii() or not value.isprintable():
        problems.append(
            f"{key} holds characters an HTTP header cannot carry (a line break, a control or "
            "non-ASCII character): copy it again from the CleverTap dashboard"
        )
    return value


def _timezone(config: Mapping[str, Any], problems: list[str]) -> str:
    name = config.get("timezone", DEFAULTS["timezone"])
    try:
        if not isinstance(name, str) or not name:
            raise ValueError
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        problems.append(
            f"timezone must be an IANA time zone name such as UTC or Asia/Kolkata "
            f"(the account's time zone), got {name!r}"
        )
        return "UTC"
    return str(name)


def today_in(tz_name: str, now: datetime.datetime | None = None) -> datetime.date:
    """The date in `tz_name` at the instant `now` (an aware datetime; default: the clock).

    `now` is the seam that makes "today" a test's input: the date decides which day is not
    over yet, and a test run near midnight must not see it change under it.
    """
    instant = now if now is not None else datetime.datetime.now(datetime.UTC)
    if instant.tzinfo is None:
        raise ValueError("now must be an aware datetime (a naive one means the machine's zone)")
    return instant.astimezone(zoneinfo.ZoneInfo(tz_name)).date()


def parse_settings(config: Mapping[str, Any], now: datetime.datetime | None = None) -> Settings:
    """Check everything and return typed settings, or raise one `ConfigError` naming it all.

    `now` is the instant the run takes as the present (default: the clock); see `today_in`.
    """
    problems: list[str] = []
    unknown = sorted(set(config) - TAP_KEYS)
    if unknown:
        problems.append(
            f"unknown config key(s) {', '.join(map(repr, unknown))}; the known keys are "
            f"{', '.join(sorted(TAP_KEYS))} (see --about)"
        )
    account_id = _required_string(config, "account_id", problems)
    passcode = _required_string(config, "passcode", problems)
    base_url = _base_url(config, problems)
    tz_name = _timezone(config, problems)
    today = today_in(tz_name, now)

    start = as_date(config.get("start_date"), "start_date", problems, required=True)
    end_given = config.get("end_date") not in (None, "")
    end = as_date(config.get("end_date"), "end_date", problems) if end_given else None
    if end is not None and end > today:
        problems.append(
            f"end_date {end} is after today ({today} in {tz_name}): counts of future days "
            "are rejected by CleverTap; leave end_date out to count up to yesterday"
        )
    resolved_end = end or today - datetime.timedelta(days=1)
    if start is not None and end is not None and start > end:
        problems.append(f"start_date {start} is after end_date {end}")
    elif start is not None and start > today:
        problems.append(f"start_date {start} is in the future (today is {today} in {tz_name})")

    lookback = as_int(config, "lookback_days", DEFAULTS, problems, minimum=0)
    poll_interval = as_number(config, "poll_interval_seconds", DEFAULTS, problems)
    poll_timeout = as_number(config, "poll_timeout_seconds", DEFAULTS, problems)
    request_timeout = as_number(config, "request_timeout_seconds", DEFAULTS, problems)
    busy_timeout = as_number(config, "busy_timeout_seconds", DEFAULTS, problems)
    concurrency = as_int(config, "max_concurrent_queries", DEFAULTS, problems, minimum=1)
    with_trends = _as_bool(config, "backfill_with_trends", problems)
    count_events = _as_bool(config, "count_events", problems)
    queries = parse_queries(config.get("queries"), start, problems)
    for spec in queries:
        if spec.start_date > today:
            problems.append(f"query '{spec.name}': start_date {spec.start_date} is in the future")
        elif end is not None and spec.start_date > end:
            problems.append(
                f"query '{spec.name}': start_date {spec.start_date} is after end_date {end}"
            )

    if problems:
        raise ConfigError("Invalid config: " + "; ".join(problems))
    assert start is not None
    return Settings(
        account_id=account_id,
        passcode=passcode,
        base_url=base_url,
        start_date=start,
        end_date=resolved_end,
        today=today,
        timezone=tz_name,
        queries=queries,
        lookback_days=lookback,
        poll_interval_seconds=poll_interval,
        poll_timeout_seconds=poll_timeout,
        max_concurrent_queries=concurrency,
        request_timeout_seconds=request_timeout,
        busy_timeout_seconds=busy_timeout,
        backfill_with_trends=with_trends,
        count_events=count_events,
        end_date_given=end is not None,
    )
