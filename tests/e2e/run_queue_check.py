"""Run by .venv-dagster's python for tests/e2e/test_distributed.py: which queued runs Dagster's
daemon would start under deploy/dagster.yaml's run coordinator, without starting a daemon.

An instance in a temp dir takes the file's `run_coordinator` section as it is; runs of the asset
job, tagged with their account (`dagster/partition`) as a backfill or the schedule tags them,
are put in the queue (or in progress) per scenario, and the daemon's own choice of the runs to
dequeue (`QueuedRunCoordinatorDaemon`, one iteration's decision) is printed as JSON: the
accounts of the runs it would start, in order.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]  # .venv-dagster has no PyYAML stubs
from dagster import DagsterInstance, DagsterRunStatus, instance_for_test
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.test_utils import create_run_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
JOB = "clevertap_counts_job"
# (accounts of runs in progress, accounts of queued runs in the order they were submitted)
SCENARIOS: dict[str, tuple[list[str], list[str]]] = {
    "backfill of A and B while nothing runs, A asked twice": ([], ["a", "a", "b"]),
    "A running, the schedule queues A and B": (["a"], ["a", "b"]),
    "A and B running": (["a", "b"], ["b", "a"]),
}


def dequeued(instance: DagsterInstance, running: list[str], queued: list[str]) -> list[str]:
    target = LoadableTargetOrigin(python_file=str(REPO / "orchestration" / "definitions.py"))
    location = InProcessCodeLocationOrigin(target, location_name="definitions.py")
    origin = RemoteRepositoryOrigin(location, "__repository__").get_job_origin(JOB)
    for account, status in [(a, DagsterRunStatus.STARTED) for a in running] + [
        (a, DagsterRunStatus.QUEUED) for a in queued
    ]:
        create_run_for_test(
            instance,
            job_name=JOB,
            status=status,
            tags={"dagster/partition": account},
            remote_job_origin=origin,
        )
    with QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon:
        runs = daemon._get_runs_to_dequeue(  # the daemon's decision alone
            instance, instance.get_concurrency_config(), fixed_iteration_time=None
        )
    return [run.tags["dagster/partition"] for run in runs]


def main() -> int:
    config: dict[str, Any] = yaml.safe_load(
        (REPO / "deploy" / "dagster.yaml").read_text(encoding="utf-8")
    )
    results = {}
    with instance_for_test(overrides={"run_coordinator": config["run_coordinator"]}) as inst:
        for name, (running, queued) in SCENARIOS.items():
            inst.wipe()  # each scenario on an empty run history
            results[name] = {
                "coordinator": type(inst.run_coordinator).__name__,
                "running": running,
                "queued": queued,
                "started": dequeued(inst, running, queued),
            }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
