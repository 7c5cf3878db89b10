"""The config's JSON schema: what `--about`, Meltano and the Hub definition show of each key.

It describes the keys for people and tools; `config.settings.parse_settings` is what enforces
them (`tap.py` says why the SDK's schema validation is not used for the tap's own keys).
"""

from __future__ import annotations

from singer_sdk import typing as th

from tap_clevertap_counts.config.periods import GRANULARITY_PATTERN
from tap_clevertap_counts.config.queries import OPERATORS
from tap_clevertap_counts.config.settings import DEFAULTS, REGION_HOSTS

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
        description="Unique id of the query in records and state: letters, digits, _ and -",
    ),
    th.Property("event_name", th.StringType, required=True, description="CleverTap event name"),
    th.Property(
        "event_properties",
        th.ArrayType(_FILTER),
        description="Filters on event properties, all of which must match (default none)",
    ),
    th.Property(
        "granularity",
        th.StringType,
        pattern=GRANULARITY_PATTERN,
        default="day",
        description="Period of each count: day, week (ISO, Mon-Sun), month, or rolling_<N>d "
        "(N 2-366: for each day D, the N days ending on D; rolling_7d = weekly actives as of D)",
    ),
    th.Property(
        "start_date", th.DateType, description="First day for this query (default: start_date)"
    ),
    additional_properties=False,
)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "account_id",
        th.StringType,
        required=True,
        description="CleverTap account id, sent as X-CleverTap-Account-Id",
    ),
    th.Property(
        "passcode",
        th.StringType,
        required=True,
        secret=True,
        description="CleverTap passcode, sent as X-CleverTap-Passcode; never logged",
    ),
    th.Property(
        "region",
        th.StringType,
        default=DEFAULTS["region"],
        allowed_values=list(REGION_HOSTS),
        description="Account region: in1, sg1, us1, aps3, mec1 -> https://<region>.api."
        "clevertap.com; eu1 (alias global) -> https://api.clevertap.com",
    ),
    th.Property(
        "api_url",
        th.StringType,
        description="Base URL override (a proxy, the local emulator); plain http only "
        "for loopback hosts. Default: from region",
    ),
    th.Property(
        "start_date", th.DateType, required=True, description="First day to count, YYYY-MM-DD"
    ),
    th.Property(
        "end_date",
        th.DateType,
        description="Last day to count, YYYY-MM-DD; never later than today. "
        "Default: yesterday in timezone. Periods ending today are provisional: emitted, "
        "but the bookmark stays on the last whole period, so the next run counts them again",
    ),
    th.Property(
        "timezone",
        th.StringType,
        default=DEFAULTS["timezone"],
        description="The account's IANA time zone: decides today and yesterday",
    ),
    th.Property(
        "queries",
        th.ArrayType(_QUERY),
        required=True,
        description="The event queries to count (at least one)",
    ),
    th.Property(
        "lookback_days",
        th.IntegerType,
        default=DEFAULTS["lookback_days"],
        description="Re-count this many days before each query's bookmark on every run "
        "(late events, profile merges)",
    ),
    th.Property(
        "poll_interval_seconds",
        th.NumberType,
        default=DEFAULTS["poll_interval_seconds"],
        description="Wait between polls of a pending (partial) query, as CleverTap asks; "
        "retry waits scale with it",
    ),
    th.Property(
        "poll_timeout_seconds",
        th.NumberType,
        default=DEFAULTS["poll_timeout_seconds"],
        description="Give up on one pending query once it has computed this long, counted "
        "from its acceptance (waiting for a slot before it does not count)",
    ),
    th.Property(
        "max_concurrent_queries",
        th.IntegerType,
        default=DEFAULTS["max_concurrent_queries"],
        description="Count queries in flight at once per API (CleverTap allows 3 per "
        "account for each of Get Profile Count, Get Event Count and Trends)",
    ),
    th.Property(
        "backfill_with_trends",
        th.BooleanType,
        default=DEFAULTS["backfill_with_trends"],
        description="Count never-counted daily backlogs of 30 days or more of unfiltered "
        "queries through CleverTap's Trends API (a year per job), after checking 7 days of "
        "each series (first, last, 5 sampled) against the query's own endpoint; any "
        "difference falls back to day by day",
    ),
    th.Property(
        "count_events",
        th.BooleanType,
        default=DEFAULTS["count_events"],
        description="Also count events: the event_counts stream (Get Event Count, twice the "
        "API calls) is counted only when this is true and the catalog selects it",
    ),
    th.Property(
        "busy_timeout_seconds",
        th.NumberType,
        default=DEFAULTS["busy_timeout_seconds"],
        description="How long the run waits through CleverTap's 429 'too many concurrent "
        "requests' (another client of the account holds its slots) with none of its queries "
        "accepted before it stops; each accepted query starts the wait again",
    ),
    th.Property(
        "request_timeout_seconds",
        th.NumberType,
        default=DEFAULTS["request_timeout_seconds"],
        description="Timeout of one HTTP request",
    ),
    additional_properties=False,
).to_dict()
