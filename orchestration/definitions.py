"""Every CleverTap account of meltano.yml on Dagster: one asset, one partition per account.

    .venv-dagster/bin/dagster asset materialize -f orchestration/definitions.py \\
        --select clevertap_counts --partition tap-clevertap-app-a

Each partition's step is `meltano --environment=ENV run <account extractor> <loader>`
(orchestration/runner.py); docs/orchestrator.md is the guide. No `from __future__ import
annotations` here: Dagster reads the Config class's annotations at runtime.
"""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

if __package__ in (None, ""):  # loaded by path (`dagster ... -f orchestration/definitions.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dagster import (
    AssetExecutionContext,
    Backoff,
    Config,
    DefaultScheduleStatus,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    RunRequest,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    schedule,
)

from orchestration.executor import executor_from_environment
from orchestration.project import (
    MeltanoProject,
    ProjectError,
    meltano_executable,
    resolve_environment,
)
from orchestration.runner import MeltanoFailed, meltano_run

ASSET = "clevertap_counts"
JOB = "clevertap_counts_job"
SCHEDULE = "clevertap_counts_daily"
# 06:30 UTC: after meltano.yml's daily-clevertap-counts (06:00, the same DuckDB file), and at the
# time of its daily-clevertap-accounts: schedule the accounts from Meltano or Dagster, not both.
CRON = "30 6 * * *"
# A failed account is tried twice more, 1 then 3 minutes later (Dagster's exponential backoff):
# for CleverTap's bursts of 503s that outlast the tap's own retries, and for a first migration of
# a shared system database that another machine started at the same moment.
RETRY = RetryPolicy(max_retries=2, delay=60, backoff=Backoff.EXPONENTIAL)


class MeltanoRunConfig(Config):
    """Run config of a step. `environment` unset: MELTANO_ENVIRONMENT, else meltano.yml's
    default_environment."""

    loader: str = "target-duckdb"
    environment: Optional[str] = None  # noqa: UP045 (Dagster's Config reads Optional)


def build_definitions(
    project: MeltanoProject,
    retry_policy: Optional[RetryPolicy] = RETRY,  # noqa: UP045
) -> Definitions:
    """The asset, its job and its daily schedule, for the accounts meltano.yml has now."""
    accounts = StaticPartitionsDefinition(project.accounts())

    @asset(
        name=ASSET,
        partitions_def=accounts,
        retry_policy=retry_policy,
        kinds={"meltano"},
        description="One CleverTap account's counts, loaded by `meltano run`.",
    )
    def clevertap_counts(
        context: AssetExecutionContext, config: MeltanoRunConfig
    ) -> MaterializeResult[None]:
        try:
            environment = resolve_environment(config.environment, project)
            done = meltano_run(
                project,
                meltano_executable(),
                context.partition_key,
                config.loader,
                environment,
                context.log.info,
            )
        except ProjectError as error:
            raise Failure(description=str(error), allow_retries=False) from None
        except MeltanoFailed as failed:
            raise Failure(
                description=f"{failed}: {failed.cause}",
                metadata={"log_tail": MetadataValue.text("\n".join(failed.tail))},
            ) from None
        return MaterializeResult(
            metadata={
                "environment": environment,
                "loader": config.loader,
                "command": str(done["command"]),
                "state_id": str(done["state_id"]),
                "started_at": MetadataValue.timestamp(float(str(done["started_at"]))),
                "ended_at": MetadataValue.timestamp(float(str(done["ended_at"]))),
            }
        )

    job = define_asset_job(JOB, selection=[ASSET], partitions_def=accounts)

    @schedule(
        name=SCHEDULE,
        job=job,
        cron_schedule=CRON,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
    )
    def daily(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
        """One run per account (each its own retries and log); the day in the run key keeps a
        tick from requesting one account twice."""
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for key in accounts.get_partition_keys():
            yield RunRequest(run_key=f"{day}:{key}", partition_key=key)

    return Definitions(
        assets=[clevertap_counts],
        jobs=[job],
        schedules=[daily],
        executor=executor_from_environment(),
    )


defs = build_definitions(MeltanoProject.discover())
