"""The Meltano SDK's standard tap tests, against a module-wide emulator.

`get_tap_test_class` needs its config when the module is imported, so the emulator starts here
(on an ephemeral loopback port) rather than in a fixture, and stops when the module is done.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, EmulatorConfig
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import LAUNCHES, PIZZA

EMULATOR = Emulator(EmulatorConfig(seed=11, partial_share=0.5, job_seconds=0.01)).start()

CONFIG = {
    "account_id": DEMO_ACCOUNT_ID,
    "passcode": DEMO_PASSCODE,
    "api_url": EMULATOR.url,
    "start_date": "2024-05-01",
    "end_date": "2024-05-14",
    "queries": [PIZZA, {**LAUNCHES, "granularity": "week"}],
    "poll_interval_seconds": 0.01,
    # Both suites sync event_counts (one by the catalog, one by forcing every stream on): the
    # config opts in, as a user counting events does.
    "count_events": True,
}


def opted_in_catalog() -> dict[str, Any]:
    """The discovered catalog with every stream selected, as a user opting in to event_counts
    writes it: the suite then checks both streams through the user's path."""
    catalog: dict[str, Any] = TapClevertapCounts(config=None, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = True
    return catalog


StandardTests = get_tap_test_class(TapClevertapCounts, config=CONFIG, catalog=opted_in_catalog())
# As the cookiecutter writes it: no catalog. The suite then forces every stream on, the opt-in
# event_counts too, after the tap was built with it off.
CookiecutterTests = get_tap_test_class(TapClevertapCounts, config=CONFIG)
# The cookiecutter's sample config: start_date today, no end_date. Only whole days are counted
# and the default end_date is yesterday, so there is nothing to count (the tap says so in one
# line, tests/planning/test_today.py); every other test of the suite must pass on that empty
# sync.
# "Today" is pinned (`now`), not read from the clock.
NOW = datetime.datetime(2024, 5, 15, 9, 30, tzinfo=datetime.UTC)
SAMPLE_CONFIG = {key: value for key, value in CONFIG.items() if key != "end_date"}
SAMPLE_CONFIG["start_date"] = NOW.date().isoformat()
SampleConfigTests = get_tap_test_class(
    TapClevertapCounts,
    config=SAMPLE_CONFIG,
    suite_config=SuiteConfig(ignore_no_records=True),
    now=NOW,
)


class TestTapClevertapCounts(StandardTests):  # type: ignore[misc,valid-type]
    """The SDK's suite: CLI, discovery, a sync of both streams, schema conformance, keys."""


class TestTapClevertapCountsNoCatalog(CookiecutterTests):  # type: ignore[misc,valid-type]
    """The same suite as a new tap's cookiecutter sets it up."""


class TestTapClevertapCountsSampleConfig(SampleConfigTests):  # type: ignore[misc,valid-type]
    """The suite with the cookiecutter's sample config: a run with nothing whole to count."""


@pytest.fixture(scope="module", autouse=True)
def _stop_emulator() -> Iterator[None]:
    yield
    EMULATOR.stop()
