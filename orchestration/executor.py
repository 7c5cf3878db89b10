"""The executor of every job here, chosen when Dagster loads the definitions: one set of
definitions serves one machine (steps as processes) and a Celery deployment (steps on workers)."""

from __future__ import annotations

import os

from dagster import ExecutorDefinition, multiprocess_executor

VARIABLE = "DAGSTER_EXECUTOR"
CHOICES = ("multiprocess", "celery")


def job_executor() -> ExecutorDefinition:
    """`DAGSTER_EXECUTOR`: `multiprocess` (the default) or `celery` (dagster-celery's executor,
    configured by the run config or deploy/)."""
    chosen = os.environ.get(VARIABLE, "").strip() or "multiprocess"
    if chosen == "multiprocess":
        return multiprocess_executor
    if chosen == "celery":
        from dagster_celery import celery_executor  # noqa: PLC0415 (only where it is used)

        return celery_executor
    raise ValueError(f"{VARIABLE}={chosen!r}: choose one of {', '.join(CHOICES)}")
