"""Dagster's Celery executor, set up for deploy/: broker and result backend from the environment,
and a run's own `dagster-celery/queue` tag choosing the queue of its steps.

dagster-celery reads the queue from each op's tags only, so one definition would send every
account to one queue. Here a run tagged `dagster-celery/queue: machine-2` (the CLI's `--tags`, a
backfill's or a schedule's tags) sends its steps to the workers listening on `machine-2`; an op's
own tag still wins, and an untagged run goes to the default queue `dagster`. No `from __future__
import annotations`: Dagster reads the executor's signature at runtime.
"""

from collections.abc import Iterator
from typing import Any

from dagster import ExecutorDefinition, executor, multiple_process_executor_requirements
from dagster._core.execution.retries import RetryMode
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG
from typing_extensions import override

BROKER_ENV = "DAGSTER_CELERY_BROKER_URL"
BACKEND_ENV = "DAGSTER_CELERY_BACKEND_URL"


class RunTagQueueExecutor(CeleryExecutor):
    """The Celery executor, whose default queue is the run's `dagster-celery/queue` tag."""

    @override
    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        queue = plan_context.dagster_run.tags.get(DAGSTER_CELERY_QUEUE_TAG)
        if queue:
            # One executor per run (Dagster builds it from the run's config), so this is the
            # run's own default; the Celery app the loop builds reads it as task_default_queue.
            # (config_source is dagster-celery's dict_wrapper: its __dict__ is the settings.)
            self.config_source.__dict__["task_default_queue"] = queue
        steps: Iterator[Any] = super().execute(plan_context, execution_plan)  # type: ignore[no-untyped-call]
        return steps


@executor(
    name="celery",
    config_schema=CELERY_CONFIG,
    requirements=multiple_process_executor_requirements(),
)
def run_tag_queue_celery_executor(init_context: Any) -> RunTagQueueExecutor:
    """dagster_celery.celery_executor's config, with the queue taken from the run's tag."""
    config = init_context.executor_config
    return RunTagQueueExecutor(  # type: ignore[no-untyped-call]  # dagster-celery is untyped
        broker=config.get("broker"),
        backend=config.get("backend"),
        config_source=config.get("config_source"),
        include=config.get("include"),
        retries=RetryMode.from_config(config["retries"]),
    )


def celery_from_environment() -> ExecutorDefinition:
    """The executor with its broker and backend read when a run starts (the variables of
    deploy/README.md), so no URL or password is in the definitions or the run config."""
    configured: ExecutorDefinition = run_tag_queue_celery_executor.configured(
        {"broker": {"env": BROKER_ENV}, "backend": {"env": BACKEND_ENV}}
    )
    return configured
