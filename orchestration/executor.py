"""The executor of every job here, chosen when Dagster loads the definitions: one set of
definitions serves one machine (steps as processes) and a Celery deployment (steps on workers)."""

from __future__ import annotations

import os

from dagster import ExecutorDefinition, multiprocess_executor

VARIABLE = "DAGSTER_EXECUTOR"
CHOICES = ("multiprocess", "celery")


def job_executor() -> ExecutorDefinition:
    """`DAGSTER_EXECUTOR`: `multiprocess` (the default) or `celery`: dagster-celery's executor as
    deploy/ runs it (orchestration/distributed.py: broker and result backend from the
    environment, each run's steps on the queue its `dagster-celery/queue` tag names)."""
    chosen = os.environ.get(VARIABLE, "").strip() or "multiprocess"
    if chosen == "multiprocess":
        return multiprocess_executor
    if chosen == "celery":
        from orchestration.distributed import celery_from_environment  # noqa: PLC0415

        return celery_from_environment()
    raise ValueError(f"{VARIABLE}={chosen!r}: choose one of {', '.join(CHOICES)}")
