"""Every CleverTap account of a Meltano project on Dagster, and its dbt models after them.

    .venv-dagster/bin/dg launch -f orchestration/definitions.py \\
        --assets clevertap_counts --partition tap-clevertap-app-a

- `clevertap_counts`: one partition per account (orchestration/accounts.py); each partition's
  step is `meltano --environment=ENV run <account extractor> <loader>` (runner.py), failed once
  when no retry can help (failures.py), else retried.
- `clevertap_models`: the dbt models of transform/ (models.py), downstream of every partition,
  refreshed by declarative automation once the accounts' runs are over; dbt's tests are their
  asset checks.

docs/orchestrator.md is the guide. No `from __future__ import annotations` here: Dagster reads
the Config classes' annotations at runtime.
"""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):  # loaded by path (`dg launch -f orchestration/definitions.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    Backoff,
    Config,
    DefaultScheduleStatus,
    DefaultSensorStatus,
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
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets
from typing_extensions import override

from orchestration.accounts import accounts
from orchestration.executor import job_executor
from orchestration.models import (
    DbtSetup,
    UtilityDbtCli,
    environ_with,
    resource,
    run_target,
    setup,
    utility_env,
)
from orchestration.project import (
    MeltanoProject,
    ProjectError,
    meltano_executable,
    resolve_environment,
)
from orchestration.runner import MeltanoFailed, ensure_system_database, meltano_run, writer_slot

ASSET = "clevertap_counts"
MODELS = "clevertap_models"
SOURCE = "clevertap"  # the dbt source whose tables the tap's streams are
JOB = "clevertap_counts_job"
SCHEDULE = "clevertap_counts_daily"
SENSOR = "clevertap_models_refresh"
# 06:30 UTC: after meltano.yml's daily-clevertap-counts (06:00, the same DuckDB file), and at the
# time of its daily-clevertap-accounts: schedule the accounts from Meltano or Dagster, not both.
CRON = "30 6 * * *"
# A failed account is tried twice more, 1 then 3 minutes later (Dagster's exponential backoff):
# for CleverTap's bursts of 503s that outlast the tap's own retries, and for a first migration of
# a shared system database that another machine started at the same moment. Failures no retry
# can fix (failures.py) fail at once instead.
RETRY = RetryPolicy(max_retries=2, delay=60, backoff=Backoff.EXPONENTIAL)
# The models run once something upstream was updated, when no account's run is queued or in
# progress, and not while they run already: after the accounts' runs, whoever started them. A
# partition never loaded (an account added today, one that failed) does not hold them back.
REFRESH = AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())


class MeltanoRunConfig(Config):
    """Run config of a step. `environment` unset: MELTANO_ENVIRONMENT, else meltano.yml's
    default_environment."""

    loader: str = "target-duckdb"
    environment: Optional[str] = None  # noqa: UP045 (Dagster's Config reads Optional)


class DbtRunConfig(Config):
    """Run config of the dbt step: the Meltano environment whose utility settings dbt gets."""

    environment: Optional[str] = None  # noqa: UP045


def failure(failed: MeltanoFailed) -> Failure:
    """The step's failure, with the tap's line; not retried when no retry can help."""
    verdict = failed.verdict
    note = f" ({verdict.kind}: not retried)" if verdict.permanent else ""
    return Failure(
        description=f"{failed}: {verdict.line}{note}",
        metadata={
            "failure": verdict.kind,
            "log_tail": MetadataValue.text("\n".join(failed.tail)),
        },
        allow_retries=not verdict.permanent,
    )


def counts_asset(
    project: MeltanoProject,
    partitions: StaticPartitionsDefinition,
    retry_policy: Optional[RetryPolicy],  # noqa: UP045
) -> AssetsDefinition:
    @asset(
        name=ASSET,
        partitions_def=partitions,
        retry_policy=retry_policy,
        kinds={"meltano"},
        description="One CleverTap account's counts, loaded by `meltano run`.",
    )
    def clevertap_counts(
        context: AssetExecutionContext, config: MeltanoRunConfig
    ) -> MaterializeResult[None]:
        try:
            environment = resolve_environment(config.environment, project)
            meltano = meltano_executable()
            done = meltano_run(
                project,
                meltano,
                context.partition_key,
                config.loader,
                environment,
                context.log.info,
            )
        except ProjectError as error:
            raise Failure(description=str(error), allow_retries=False) from None
        except MeltanoFailed as failed:
            raise failure(failed) from None
        return MaterializeResult(
            metadata={
                "environment": environment,
                "loader": config.loader,
                "meltano": meltano,
                "command": str(done["command"]),
                "state_id": str(done["state_id"]),
                "started_at": MetadataValue.timestamp(float(str(done["started_at"]))),
                "ended_at": MetadataValue.timestamp(float(str(done["ended_at"]))),
            }
        )

    return clevertap_counts


class ModelsTranslator(DagsterDbtTranslator):
    """The tap's raw tables (the dbt source `clevertap`) are the asset `clevertap_counts`, so
    every model is downstream of every account; the models refresh by REFRESH."""

    @override
    def get_asset_key(self, dbt_resource_props: Any) -> AssetKey:
        props = dict(dbt_resource_props)
        if props.get("resource_type") == "source" and props.get("source_name") == SOURCE:
            return AssetKey(ASSET)
        return super().get_asset_key(dbt_resource_props)

    @override
    def get_group_name(self, dbt_resource_props: Any) -> Optional[str]:  # noqa: UP045
        return MODELS

    @override
    def get_automation_condition(self, dbt_resource_props: Any) -> AutomationCondition[Any]:
        return REFRESH


def models_assets(project: MeltanoProject, dbt: DbtSetup) -> AssetsDefinition:
    translator = ModelsTranslator(
        settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True)
    )

    @dbt_assets(manifest=dbt.manifest, dagster_dbt_translator=translator, name=MODELS)
    def clevertap_models(
        context: AssetExecutionContext, dbt_cli: UtilityDbtCli, config: DbtRunConfig
    ) -> Iterator[Any]:
        """`dbt build` (models, then their tests) by the utility's dbt, holding the loader's
        lock when it writes the loader's file (DuckDB)."""
        try:
            environment = resolve_environment(config.environment, project)
            meltano = meltano_executable()
            ensure_system_database(project, meltano, context.log.info)
            env = utility_env(project, meltano, dbt.utility, environment)
            target = run_target(dbt, env)
        except ProjectError as error:
            raise Failure(description=str(error), allow_retries=False) from None
        except MeltanoFailed as failed:
            raise failure(failed) from None
        context.log.info(f"dbt build by {dbt.executable} ({dbt.utility}, {environment})")
        with (
            writer_slot(project, dbt.lock_name, environment, context.log.info),
            environ_with(env),
        ):
            yield from dbt_cli.cli(["build"], context=context, target_path=target).stream()

    return clevertap_models


def build_definitions(
    project: MeltanoProject,
    retry_policy: Optional[RetryPolicy] = RETRY,  # noqa: UP045
) -> Definitions:
    """The assets, the accounts' job and daily schedule, for the project as it is now."""
    partitions = StaticPartitionsDefinition(accounts(project, project.load_environment()))
    counts = counts_asset(project, partitions, retry_policy)
    job = define_asset_job(JOB, selection=[ASSET], partitions_def=partitions)

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
        for key in partitions.get_partition_keys():
            yield RunRequest(run_key=f"{day}:{key}", partition_key=key)

    assets: list[AssetsDefinition] = [counts]
    resources: dict[str, Any] = {}
    sensors: list[AutomationConditionSensorDefinition] = []
    dbt = setup(project)
    if dbt is not None:
        models = models_assets(project, dbt)
        assets.append(models)
        resources["dbt_cli"] = resource(dbt)
        # Running from the start (the daemon evaluates it every 30 s): it asks for nothing until
        # an account is loaded, by the schedule, a backfill or by hand.
        sensors.append(
            AutomationConditionSensorDefinition(
                SENSOR,
                target=list(models.keys),
                default_status=DefaultSensorStatus.RUNNING,
                description="The dbt models, once the accounts' runs are over (REFRESH).",
            )
        )
    return Definitions(
        assets=assets,
        jobs=[job],
        schedules=[daily],
        sensors=sensors,
        resources=resources,
        executor=job_executor(),
    )


defs = build_definitions(MeltanoProject.discover())
