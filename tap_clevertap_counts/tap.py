"""`TapClevertapCounts`: the Singer tap, its config checks, and the one run its streams share.

Its JSON schema (`singer/config_schema.py`) is what `--about` and Meltano show;
`config.settings.parse_settings` is what enforces it (`check_config` says why the SDK's
schema validation is not used for the tap's own keys).
"""

from __future__ import annotations

import datetime
import urllib.parse
from typing import Any, ClassVar

import jsonschema
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities
from typing_extensions import override

from .config.settings import Settings, is_loopback_host, parse_settings
from .errors import ConfigError
from .planning.today import log_today
from .running.run import Run, plan_run
from .singer.config_schema import CONFIG_SCHEMA
from .singer.delivery import DeliveringStream
from .singer.interleave import Waiter
from .singer.statefile import problem as state_problem
from .singer.statefile import unwrap as unwrap_state
from .singer.streams import EventCountsStream, ProfileCountsStream
from .singer.tapbase import SingerTap

CLEVERTAP_POLL_SECONDS = 30  # "Wait 30 seconds between polling requests" (Get Profile Count)


class TapClevertapCounts(SingerTap):
    """Counts of profiles that did an event, per day, week or month, from CleverTap."""

    name = "tap-clevertap-counts"
    package_name = "tap-clevertap-counts"

    # What `--about` lists and meltano.yml declares (tests/singer/test_capabilities.py: they
    # agree, and each one works). The SDK's default minus activate-version: every stream is
    # incremental and the SDK sends ACTIVATE_VERSION only in full-table syncs.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.BATCH,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    # The one source of every setting's description (singer/config_schema.py says where it goes).
    config_jsonschema = CONFIG_SCHEMA

    known_streams = (ProfileCountsStream.name, EventCountsStream.name)

    _settings: Settings | None = None

    def __init__(self, *, now: datetime.datetime | None = None, **kwargs: Any) -> None:
        """`now`: the instant taken as the present, which decides "today" in `timezone` (the
        day not over yet) and the default end_date. Tests pin it; the command uses the clock."""
        self._now = now
        super().__init__(**kwargs)

    @property
    @override
    def settings(self) -> Settings:
        """The checked config (checked here too when the tap was built with validation off)."""
        if self._settings is None:
            self._settings = parse_settings(self._own_config(), self._now)
        return self._settings

    @classmethod
    def _builtin_keys(cls) -> set[str]:
        """The SDK's own config keys (stream maps, flattening, ...)."""
        schema: dict[str, Any] = {"properties": {}}
        cls.append_builtin_config(schema)
        return set(schema["properties"])

    def _own_config(self) -> dict[str, Any]:
        builtin = self._builtin_keys()
        return {key: value for key, value in self.config.items() if key not in builtin}

    @override
    def check_config(self, *, raise_errors: bool = True) -> list[str]:
        """Check the tap's keys with `parse_settings` rather than the JSON schema.

        A schema validator quotes offending values (a passcode given as a number would be
        printed) and cannot check dates, zones or uniqueness; `parse_settings` names keys and
        never secrets. The SDK's built-in keys are still checked against their schema.
        """
        errors: list[str] = []
        try:
            self._settings = parse_settings(self._own_config(), self._now)
        except ConfigError as exc:
            errors.append(str(exc))
        builtin = {k: v for k, v in self.config.items() if k in self._builtin_keys()}
        if builtin:
            schema: dict[str, Any] = {"type": "object", "properties": {}}
            self.append_builtin_config(schema)
            validator = jsonschema.Draft7Validator(schema)
            errors.extend(
                f"Invalid config: {'.'.join(map(str, error.path))}: {error.message}"
                for error in validator.iter_errors(builtin)
            )
        if errors and raise_errors:
            raise ConfigError("; ".join(errors))
        for error in errors:
            self.logger.warning("%s", error)
        return errors

    @override
    def discover_streams(self) -> list[ProfileCountsStream]:
        return [ProfileCountsStream(self), EventCountsStream(self)]

    # --- one run across streams ------------------------------------------------------------

    _run: Run | None = None

    @override
    def counting_run(self, stream: str, query: str) -> Run:
        """The run that counts `stream`'s `query`: planned once for every selected stream.

        A new plan is made only when there is none yet, or the last one was given up (a
        failure, or a sync abandoned midway) or has already handed this block out (the next
        sync of the same tap object).
        """
        if self._run is None or not self._run.serves((stream, query)):
            if self._run is not None:
                self._run.close()
            selected = [s for s in self.streams.values() if s.selected]
            counting = [s for s in selected if isinstance(s, ProfileCountsStream)]
            if self._run is None:
                self._warn_fast_polls()
                log_today(self.settings, self.logger)
            self._run = plan_run(counting, self.settings, self.logger)
        return self._run

    @override
    def count_waiter(self, streams: list[DeliveringStream]) -> Waiter:
        """The run counting every selected stream, planned before any stream's first record,
        so that no stream waits for another's first count."""
        counting = [stream for stream in streams if isinstance(stream, ProfileCountsStream)]
        if not counting:
            return super().count_waiter(streams)
        return self.counting_run(counting[0].name, self.settings.queries[0].name)

    def _warn_fast_polls(self) -> None:
        """CleverTap asks for 30 s between polls of a pending query; a shorter interval is
        for the emulator (loopback) and tests. Set against a real host (perhaps by a dev
        value reaching prod), it polls the account faster than CleverTap allows."""
        settings = self.settings
        host = urllib.parse.urlsplit(settings.base_url).hostname or ""
        if settings.poll_interval_seconds < CLEVERTAP_POLL_SECONDS and not is_loopback_host(host):
            self.logger.warning(
                "poll_interval_seconds is %g s, shorter than the %d s CleverTap asks between "
                "polls of a pending query: %s would be polled faster than it allows; set "
                "poll_interval_seconds to %d (the default) for a real account",
                settings.poll_interval_seconds,
                CLEVERTAP_POLL_SECONDS,
                host,
                CLEVERTAP_POLL_SECONDS,
            )

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Take Meltano's `{"singer_state": ...}` wrapper too; refuse what would crash a sync."""
        state = unwrap_state(state)
        if problem := state_problem(state):
            raise ConfigError(f"the state is not a Singer state this tap can use: {problem}")
        super().load_state(state)
