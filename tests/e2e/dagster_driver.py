"""Run by .venv-dagster's python for tests/e2e/test_orchestration.py: Dagster lives in its own
venv, so the test process hands this script a list of steps (JSON on stdin) and reads one JSON
result per step back (stdout's last line). One process, one Dagster import, for all of them.

Steps:
- {"do": "materialize", "partition": K, "run_config": {...}, "env": {...}, "retries": N}:
  materialize one partition in-process (the env merged into os.environ for that step only; with
  "retries", a retry policy of N immediate retries instead of the real one's minutes);
- {"do": "schedule"}: evaluate the daily schedule as its tick would, without a daemon (and
  report the asset's retry policy);
- {"do": "partitions", "root": DIR}: the partition keys the definitions read from DIR/meltano.yml.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import sys
from typing import Any

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import dagster  # noqa: E402

from orchestration.definitions import ASSET, SCHEDULE, build_definitions  # noqa: E402
from orchestration.project import MeltanoProject  # noqa: E402


def failure(event: dagster.DagsterEvent) -> str:
    """What the step's Failure said (its description), else the error's message."""
    data = event.step_failure_data
    if data.user_failure_data and data.user_failure_data.description:
        return data.user_failure_data.description
    return data.error.message if data.error else ""


def materialize(step: dict[str, Any], instance: dagster.DagsterInstance) -> dict[str, Any]:
    saved = dict(os.environ)
    os.environ.update(step.get("env", {}))
    try:
        project = MeltanoProject.discover()
        if "retries" in step:
            retries = step["retries"]
            policy = dagster.RetryPolicy(max_retries=retries) if retries else None
            defs = build_definitions(project, policy)
        else:
            defs = build_definitions(project)
        asset = defs.resolve_assets_def(ASSET)
        result = dagster.materialize(
            [asset],
            partition_key=step["partition"],
            run_config={"ops": {ASSET: {"config": step.get("run_config", {})}}},
            instance=instance,
            raise_on_error=False,
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    events = result.all_events
    found: dict[str, Any] = {
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
        "metadata": {},
    }
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
    return {
        "retry_policy": policy and {"max_retries": policy.max_retries, "delay": policy.delay},
        "cron": schedule.cron_schedule,
        "job": schedule.job_name,
        "requests": [
            {"partition": r.partition_key, "run_key": r.run_key, "tags": dict(r.tags)}
            for r in requests
        ],
    }


def main() -> int:
    steps = json.load(sys.stdin)
    results: list[dict[str, Any]] = []
    with dagster.instance_for_test() as instance:
        for step in steps:
            if step["do"] == "materialize":
                results.append(materialize(step, instance))
            elif step["do"] == "schedule":
                results.append(evaluate_schedule())
            elif step["do"] == "partitions":
                defs = build_definitions(MeltanoProject(pathlib.Path(step["root"])))
                partitions = defs.resolve_assets_def(ASSET).partitions_def
                assert partitions is not None
                results.append({"keys": list(partitions.get_partition_keys())})
            else:
                raise ValueError(step["do"])
    print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
