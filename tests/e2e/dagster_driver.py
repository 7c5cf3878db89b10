"""Run by .venv-dagster's python for tests/e2e/test_orchestration.py: Dagster lives in its own
venv, so the test process hands this script a list of steps (JSON on stdin) and reads one JSON
result per step back (stdout's last line). One process, one Dagster import, one instance, for
all of them. Every step may carry "env": variables merged into os.environ for that step only.

Steps:
- {"do": "materialize", "partition": K, "run_config": {...}, "retries": N}: materialize one
  partition in-process (with "retries", a retry policy of N immediate retries instead of the
  real one's minutes);
- {"do": "schedule"}: evaluate the daily schedule as its tick would, without a daemon (and
  report the asset's retry policy and the models' automation sensor);
- {"do": "partitions", "root": DIR}: the partition keys the definitions read from DIR (default:
  MELTANO_PROJECT_ROOT), or the error that stops them loading;
- {"do": "automation"}: one tick of declarative automation (the daemon's sensor, evaluated here),
  its cursor kept from the tick before: the asset keys it requests;
- {"do": "models"}: materialize what the last "automation" step requested (the dbt assets).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import sys
import time
from collections.abc import Iterator
from typing import Any

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import dagster  # noqa: E402

from orchestration.definitions import ASSET, SCHEDULE, SENSOR, build_definitions  # noqa: E402
from orchestration.project import MeltanoProject, ProjectError  # noqa: E402


@contextlib.contextmanager
def step_env(step: dict[str, Any]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(step.get("env", {}))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def failure(event: dagster.DagsterEvent) -> dict[str, str]:
    """What the step's Failure said (its description and class), else the error's message."""
    data = event.step_failure_data
    user = data.user_failure_data
    if user and user.description:
        kind = user.metadata.get("failure")
        return {"description": user.description, "kind": str(kind.value) if kind else ""}
    return {"description": data.error.message if data.error else "", "kind": ""}


def summary(
    result: dagster.ExecuteInProcessResult, instance: dagster.DagsterInstance
) -> dict[str, Any]:
    events = result.all_events
    return {
        "success": result.success,
        "attempts": sum(1 for e in events if e.event_type_value == "STEP_START")
        + sum(1 for e in events if e.event_type_value == "STEP_RESTARTED"),
        "failures": [failure(e) for e in events if e.is_step_failure],
        "retries": sum(1 for e in events if e.event_type_value == "STEP_UP_FOR_RETRY"),
        "logs": [
            r.user_message
            for r in instance.all_logs(result.run_id)
            if r.user_message and not r.is_dagster_event
        ],
    }


def materialize(step: dict[str, Any], instance: dagster.DagsterInstance) -> dict[str, Any]:
    project = MeltanoProject.discover()
    if "retries" in step:
        retries = step["retries"]
        policy = dagster.RetryPolicy(max_retries=retries) if retries else None
        defs = build_definitions(project, policy)
    else:
        defs = build_definitions(project)
    result = dagster.materialize(
        [defs.resolve_assets_def(ASSET)],
        partition_key=step["partition"],
        run_config={"ops": {ASSET: {"config": step.get("run_config", {})}}},
        instance=instance,
        raise_on_error=False,
    )
    found: dict[str, Any] = {**summary(result, instance), "metadata": {}}
    for mat in result.asset_materializations_for_node(ASSET):
        found["metadata"] = {k: v.value for k, v in mat.metadata.items()}
        found["partition"] = mat.partition
    return found


def evaluate_schedule() -> dict[str, Any]:
    defs = build_definitions(MeltanoProject.discover())
    schedule = defs.resolve_schedule_def(SCHEDULE)
    tick = datetime.datetime(2026, 12, 5, 6, 30, tzinfo=datetime.UTC)
    with dagster.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    ) as context:
        data = schedule.evaluate_tick(context)
    requests = data.run_requests or []
    policy = defs.resolve_assets_def(ASSET).op.retry_policy
    sensor = defs.resolve_sensor_def(SENSOR)
    return {
        "sensor": {
            "running": sensor.default_status.value == "RUNNING",
            "type": sensor.sensor_type.value,
        },
        "retry_policy": policy and {"max_retries": policy.max_retries, "delay": policy.delay},
        "cron": schedule.cron_schedule,
        "job": schedule.job_name,
        "requests": [
            {"partition": r.partition_key, "run_key": r.run_key, "tags": dict(r.tags)}
            for r in requests
        ],
    }


def partitions(step: dict[str, Any]) -> dict[str, Any]:
    root = step.get("root")
    project = MeltanoProject(pathlib.Path(root)) if root else MeltanoProject.discover()
    try:
        defs = build_definitions(project)
    except ProjectError as error:
        return {"error": str(error)}
    found = defs.resolve_assets_def(ASSET).partitions_def
    assert found is not None
    return {"keys": list(found.get_partition_keys())}


class Automation:
    """Declarative automation's ticks, each from the cursor the one before left."""

    def __init__(self, instance: dagster.DagsterInstance) -> None:
        self.instance = instance
        self.cursor: Any = None
        self.requested: list[dagster.AssetKey] = []

    def tick(self) -> dict[str, Any]:
        defs = build_definitions(MeltanoProject.discover())
        result = dagster.evaluate_automation_conditions(
            defs=defs, instance=self.instance, cursor=self.cursor
        )
        self.cursor = result.cursor
        keys = defs.resolve_asset_graph().get_all_asset_keys()
        self.requested = sorted(k for k in keys if result.get_num_requested(k))
        return {"requested": [k.to_user_string() for k in self.requested]}

    def models(self) -> dict[str, Any]:
        defs = build_definitions(MeltanoProject.discover())
        (models,) = {defs.resolve_assets_def(k) for k in self.requested}
        result = dagster.materialize(
            [models], instance=self.instance, selection=self.requested, raise_on_error=False
        )
        checks = {
            e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        }
        materialized = sorted(
            e.asset_key.to_user_string()
            for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key
        )
        return {**summary(result, self.instance), "materialized": materialized, "checks": checks}


def main() -> int:
    steps = json.load(sys.stdin)
    results: list[dict[str, Any]] = []
    with dagster.instance_for_test() as instance:
        automation = Automation(instance)
        for step in steps:
            began = time.monotonic()
            with step_env(step):
                if step["do"] == "materialize":
                    results.append(materialize(step, instance))
                elif step["do"] == "schedule":
                    results.append(evaluate_schedule())
                elif step["do"] == "partitions":
                    results.append(partitions(step))
                elif step["do"] == "automation":
                    results.append(automation.tick())
                elif step["do"] == "models":
                    results.append(automation.models())
                else:
                    raise ValueError(step["do"])
            # what a slow run spent its time on
            results[-1]["seconds"] = round(time.monotonic() - began, 2)
    print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
