"""Which executor runs the job's steps, chosen when the definitions load: `DAGSTER_EXECUTOR`.

- unset or `default`: Dagster's own default (multiprocess, or in-process for one step), as before;
- `multiprocess`, `in_process`: those executors;
- `celery`: each step a Celery task on the workers of deploy/ (orchestration/distributed.py:
  broker and backend from the environment, queue from the run's `dagster-celery/queue` tag).

The choice is the environment's, not the code's, so one set of definitions runs on a laptop and
on the workers; dagster-celery is imported only when chosen.
"""

from __future__ import annotations

import os

from dagster import (
    ExecutorDefinition,
    in_process_executor,
    multi_or_in_process_executor,
    multiprocess_executor,
)

VARIABLE = "DAGSTER_EXECUTOR"
CHOICES = ("default", "multiprocess", "in_process", "celery")


class ExecutorChoiceError(ValueError):
    """DAGSTER_EXECUTOR names no executor: the message lists the ones it may name."""


def executor_from_environment() -> ExecutorDefinition:
    """The executor `DAGSTER_EXECUTOR` names (see the module's docstring)."""
    chosen = os.environ.get(VARIABLE, "").strip() or "default"
    if chosen == "default":
        return multi_or_in_process_executor
    if chosen == "multiprocess":
        return multiprocess_executor
    if chosen == "in_process":
        return in_process_executor
    if chosen == "celery":
        from orchestration.distributed import celery_from_environment  # noqa: PLC0415

        return celery_from_environment()
    raise ExecutorChoiceError(f"{VARIABLE}={chosen!r}: use one of {', '.join(CHOICES)}")
