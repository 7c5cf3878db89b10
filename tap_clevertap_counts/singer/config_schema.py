"""Every setting as users see it: its label, type, default and description, in one place.

This JSON schema is what `--about` shows, and the one source of every other description of the
settings: `make hub` writes meltano.yml's extractor settings and the Meltano Hub definition from
it, `make readme` the README's Configuration tables and its `--about` section, and
tests/test_settings_sources.py fails while any of them says something else. So a description is
changed here, and only here. `config.settings.parse_settings` is what enforces them (`tap.py`'s
`check_config` says why the SDK's schema validation is not used for the tap's own keys).

Descriptions are plain text (no markdown, no `|`, `<` or `*`): the SDK's markdown `--about`
puts them in a table as they are. Numbers that describe the code (Trends' checks, the rolling
windows' bounds) are the code's own constants.
"""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_clevertap_counts.config.periods import (
    GRANULARITY_PATTERN,
    ROLLING_MAX_DAYS,
    ROLLING_MIN_DAYS,
)
from tap_clevertap_counts.config.queries import OPERATORS
from tap_clevertap_counts.config.settings import DEFAULTS, REGION_HOSTS
from tap_clevertap_counts.running.trends import CHECKS, MAX_SPAN_DAYS, MIN_DAYS

_WINDOWS = f"N {ROLLING_MIN_DAYS}-{ROLLING_MAX_DAYS}"

_FILTER = th.ObjectType(
    th.Property("name", th.StringType, required=True, description="Event property name"),
    th.Property(
        "operator",
        th.StringType,
        required=True,
        allowed_values=list(OPERATORS),
        description="CleverTap operator: " + ", ".join(OPERATORS),
    ),
    th.Property(
        "value",
        th.CustomType({"type": ["string", "number", "boolean", "array"]}),
        description="A primitive, or a list of primitives meaning OR",
    ),
    additional_properties=False,
)

_QUERY = th.ObjectType(
    th.Property(
        "name",
        th.StringType,
        required=True,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The query's id in records and state, unique: letters, digits, _ and -",
    ),
    th.Property(
        "event_name",
        th.StringType,
        required=True,
        description="The CleverTap event (spaces allowed, e.g. App Launched)",
    ),
    th.Property(
        "event_properties",
        th.ArrayType(_FILTER),
        description="Filters on event properties, all of which must match, passed to CleverTap "
        "as they are (default none)",
    ),
    th.Property(
        "granularity",
        th.StringType,
        pattern=GRANULARITY_PATTERN,
        default="day",
        description="The period of each count: day, week (ISO, Monday to Sunday), month, or "
        f"rolling_Nd ({_WINDOWS}: for each day D, the N days ending on D; rolling_7d is the "
        "weekly actives as of D). Only whole periods inside start and end are counted: the "
        "first 7-day window ends on start + 6",
    ),
    th.Property(
        "start_date",
        th.DateType,
        description="The first day for this query (default: the tap's start_date)",
    ),
    additional_properties=False,
)

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "account_id",
        th.StringType,
        required=True,
        title="Account ID",
        description="The CleverTap account (project) ID, sent as X-CleverTap-Account-Id.",
    ),
    th.Property(
        "passcode",
        th.StringType,
        required=True,
        secret=True,
        title="Passcode",
        description="The account's API passcode, sent as X-CleverTap-Passcode; never logged or "
        "printed. In Meltano keep it out of meltano.yml: set TAP_CLEVERTAP_COUNTS_PASSCODE in "
        "the environment or .env.",
    ),
    th.Property(
        "region",
        th.StringType,
        default=DEFAULTS["region"],
        allowed_values=list(REGION_HOSTS),
        title="Region",
        description="The account's region, as in its dashboard URL: in1, sg1, us1, aps3 or mec1 "
        "(https://in1.api.clevertap.com, ...), or eu1, alias global (https://api.clevertap.com). "
        "A wrong region may silently count nothing.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        title="API URL",
        description="Base URL override (a proxy, or the local emulator, e.g. "
        "http://127.0.0.1:8765); plain http only for loopback hosts. Default: from region.",
    ),
    th.Property(
        "start_date",
        th.DateType,
        required=True,
        title="Start Date",
        description="The first day to count (YYYY-MM-DD).",
    ),
    th.Property(
        "end_date",
        th.DateType,
        title="End Date",
        description="The last day to count (YYYY-MM-DD), never later than today. Default: "
        "yesterday in timezone. Periods ending today are provisional: emitted, but the bookmark "
        "stays on the last whole period, so the next run counts them again.",
    ),
    th.Property(
        "timezone",
        th.StringType,
        default=DEFAULTS["timezone"],
        title="Time Zone",
        description="The account's IANA time zone (e.g. Asia/Kolkata): decides today and "
        "yesterday.",
    ),
    th.Property(
        "queries",
        th.ArrayType(_QUERY),
        required=True,
        minItems=1,
        title="Queries",
        description="The event queries to count, at least one. Each is an object: name "
        "(required, unique; the query's id in records and state), event_name (required), "
        "event_properties (filters, default none), granularity (day, week, month or rolling_Nd; "
        "default day) and start_date (default: the tap's start_date).",
    ),
    th.Property(
        "lookback_days",
        th.IntegerType(minimum=0),
        default=DEFAULTS["lookback_days"],
        title="Lookback Days",
        description="Re-count this many days before each query's bookmark on every run (late "
        "events, profile merges).",
    ),
    th.Property(
        "poll_interval_seconds",
        th.NumberType(exclusive_minimum=0),
        default=DEFAULTS["poll_interval_seconds"],
        title="Poll Interval (seconds)",
        description="Seconds to wait between polls of a pending (partial) query, as CleverTap "
        "asks; retry waits scale with it.",
    ),
    th.Property(
        "poll_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=DEFAULTS["poll_timeout_seconds"],
        title="Poll Timeout (seconds)",
        description="Give up on one pending query once it has computed this many seconds, "
        "counted from its acceptance (waiting for a slot before it does not count), with an "
        "error naming the query and its dates.",
    ),
    th.Property(
        "max_concurrent_queries",
        th.IntegerType(minimum=1),
        default=DEFAULTS["max_concurrent_queries"],
        title="Max Concurrent Queries",
        description="Count queries in flight at once per API (CleverTap allows 3 per account for "
        "each of Get Profile Count, Get Event Count and Trends).",
    ),
    th.Property(
        "backfill_with_trends",
        th.BooleanType,
        default=DEFAULTS["backfill_with_trends"],
        title="Backfill With Trends",
        description="Count the never-counted days of unfiltered daily queries through "
        f"CleverTap's Trends API ({MAX_SPAN_DAYS} days per job) when those of one event and "
        f"stream come to {MIN_DAYS} or more. {CHECKS} days of each series (its first, its last "
        f"and {CHECKS - 2} drawn with the series as seed) are also counted on the query's own "
        "endpoint, and those counts are their records; any difference, error or odd answer "
        "falls back to day by day with one warning.",
    ),
    th.Property(
        "count_events",
        th.BooleanType,
        default=DEFAULTS["count_events"],
        title="Count Events",
        description="Also count events: the event_counts stream (CleverTap's Get Event Count) is "
        "counted only when this is true and the stream is selected (Meltano's default selection "
        "of every stream selects it). It doubles a run's API calls.",
    ),
    th.Property(
        "busy_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=DEFAULTS["busy_timeout_seconds"],
        title="Busy Timeout (seconds)",
        description="How long the run waits through CleverTap's 429 'Too many concurrent "
        "requests' (another client of the account, such as a neighbour's backfill, holds its "
        "slots) with none of its queries accepted before it stops with one line saying so; each "
        "accepted query starts the wait again.",
    ),
    th.Property(
        "request_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=DEFAULTS["request_timeout_seconds"],
        title="Request Timeout (seconds)",
        description="Timeout of one HTTP request, in seconds.",
    ),
    additional_properties=False,
).to_dict()
