"""meltano.yml against the tap: every setting declared, and number settings that survive Meltano.

Meltano 4.4 turns a `kind: decimal` value from the environment into a Decimal it cannot
serialize (`meltano run` crashes), and hands a `kind: string` value over as a string. So the
number settings must work when set in meltano.yml, with `meltano config set`, through the
environment and through `.env`: each way is run here for real, with every job of the emulator
answering `partial`, so a poll interval that did not arrive would cost 30 s per poll.
"""

from __future__ import annotations

import datetime
import json

import pytest

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import CONTRACT_SETTINGS
from tests.e2e.helpers import (
    NUMBER_SETTINGS,
    REPO,
    TAP,
    Project,
    dev_tap_config,
    load_yaml,
    periods,
    read_rows,
    run_pipeline,
)

END = datetime.date(2025, 6, 8)  # a Sunday: the week query has one whole week
START = END - datetime.timedelta(days=6)
VALUES = {
    "lookback_days": 1,
    "poll_interval_seconds": 0.02,
    "poll_timeout_seconds": 30.5,
    "max_concurrent_queries": 2,
    "request_timeout_seconds": 10.5,
}


def test_meltano_yml_declares_every_tap_setting() -> None:
    data = load_yaml(REPO / "meltano.yml")
    (tap,) = [p for p in data["plugins"]["extractors"] if p["name"] == TAP]
    assert tap["namespace"] == "tap_clevertap_counts"
    assert tap["pip_url"] == "-e ."
    assert set(tap["capabilities"]) >= {"state", "catalog", "discover", "about", "stream-maps"}
    settings = {s["name"]: s for s in tap["settings"]}
    assert set(settings) == CONTRACT_SETTINGS
    # The tap's schema also holds the SDK's own settings (stream maps, batch, ...) once a tap
    # object has been made: Meltano passes those through without declaring them.
    tap_schema = TapClevertapCounts.config_jsonschema["properties"]
    assert set(tap_schema) >= CONTRACT_SETTINGS
    defaults = {n: s["value"] for n, s in settings.items() if "value" in s}
    assert defaults == {n: tap_schema[n]["default"] for n in defaults}, "defaults as the tap's"
    for name, setting in settings.items():
        assert setting.get("label") and setting.get("description") and setting.get("kind"), name
    assert settings["passcode"].get("sensitive") is True
    assert settings["queries"]["kind"] == "array"
    assert settings["start_date"]["kind"] == settings["end_date"]["kind"] == "date_iso8601"
    for name, kind in NUMBER_SETTINGS.items():
        assert settings[name]["kind"] == kind, f"{name}: kind decimal crashes `meltano run`"
    loaders = {p["name"]: p for p in data["plugins"]["loaders"]}
    assert "duckdb==1.2.2" in loaders["target-duckdb"]["pip_url"].split()
    assert "==" in loaders["target-jsonl"]["pip_url"]
    assert data["default_environment"] == "dev"


def _set_in_meltano_yml(project: Project) -> dict[str, str]:
    data = project.load_yml()
    dev_tap_config(data).update(VALUES)
    project.save_yml(data)
    return {}


def _set_with_config_set(project: Project) -> dict[str, str]:
    for name, value in VALUES.items():
        project.meltano("--environment=dev", "config", "set", TAP, name, str(value))
    assert {k: float(v) for k, v in dev_tap_config(project.load_yml()).items() if k in VALUES} == (
        VALUES
    )
    return {}


def _env_names() -> dict[str, str]:
    return {f"TAP_CLEVERTAP_COUNTS_{k.upper()}": str(v) for k, v in VALUES.items()}


def _set_in_env(project: Project) -> dict[str, str]:
    return _env_names()


def _set_in_dotenv(project: Project) -> dict[str, str]:
    lines = [f"{k}={v}" for k, v in _env_names().items()]
    (project.root / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {}


WAYS = {
    "meltano.yml": _set_in_meltano_yml,
    "meltano config set": _set_with_config_set,
    "environment": _set_in_env,
    ".env": _set_in_dotenv,
}


@pytest.mark.parametrize("way", list(WAYS))
def test_number_settings_reach_the_tap(pristine_project: Project, tmp_path, way: str) -> None:
    emulator = Emulator(
        EmulatorConfig(today=END + datetime.timedelta(days=1), job_seconds=0.01, partial_share=1.0)
    )
    emulator.start()
    try:
        env = {
            "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path / 'state'}",
            "TARGET_DUCKDB_FILEPATH": str(tmp_path / "counts.duckdb"),
            "TAP_CLEVERTAP_COUNTS_API_URL": emulator.url,
            "TAP_CLEVERTAP_COUNTS_START_DATE": START.isoformat(),
            "TAP_CLEVERTAP_COUNTS_END_DATE": END.isoformat(),
            **WAYS[way](pristine_project),
        }
        config = pristine_project.dump_config(env)
        assert {k: float(config[k]) for k in VALUES} == VALUES
        run = run_pipeline(pristine_project, env)
        requests = emulator.requests()
    finally:
        emulator.stop()
    rows = read_rows(tmp_path / "counts.duckdb")
    want = {
        (q["name"], a, b)
        for q in config["queries"]
        for a, b in periods(q.get("granularity", "day"), START, END)
    }
    assert {r.period for r in rows} == want
    assert len(rows) == len(want)
    polls = [r for r in requests if r.get("kind") == "poll"]
    assert len(polls) >= len(want), "every job answered partial first"
    # A tap without the setting waits the default 30 s before any first poll; with it, some job
    # is polled well within that however loaded the machine (the least wait of them all, not a
    # run's elapsed time, which a busy machine can stretch past any bound).
    submitted = {r["answer"]["req_id"]: r["t"] for r in requests if r.get("kind") == "submit"}
    first_poll: dict[int, float] = {}
    for poll in polls:
        first_poll.setdefault(poll["req_id"], poll["t"])
    waits = [t - submitted[req_id] for req_id, t in first_poll.items() if req_id in submitted]
    assert min(waits) < 15, f"the poll interval did not reach the tap ({run.seconds:.0f} s run)"


def test_target_duckdb_keeps_the_first_row_of_a_batch(meltano_project: Project, tmp_path) -> None:
    """target-duckdb 0.8.0 with duckdb>=1.3 drops the first row when a value has a time zone."""
    schema = {
        "type": "object",
        "properties": {
            "k": {"type": "string"},
            "at": {"type": ["null", "string"], "format": "date-time"},
        },
    }
    messages = [{"type": "SCHEMA", "stream": "tz_rows", "schema": schema, "key_properties": ["k"]}]
    messages += [
        {
            "type": "RECORD",
            "stream": "tz_rows",
            "record": {"k": k, "at": f"2025-01-0{i}T10:00:00+02:00"},
        }
        for i, k in enumerate("abc", start=1)
    ]
    db = tmp_path / "tz.duckdb"
    meltano_project.meltano(
        "invoke",
        "target-duckdb",
        env={"TARGET_DUCKDB_FILEPATH": str(db)},
        stdin="".join(json.dumps(m) + "\n" for m in messages),
    )
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        keys = sorted(r[0] for r in con.execute("SELECT k FROM clevertap.tz_rows").fetchall())
    finally:
        con.close()
    assert keys == ["a", "b", "c"]
