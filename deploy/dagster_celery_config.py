"""Celery settings of the workers that run Dagster's steps (deploy/README.md).

`dagster_celery.app`, the app every worker runs, imports a module of this name when it is on
PYTHONPATH (`deploy/start.py worker` puts deploy/ there) and takes its settings. The launching
side reads the same two variables through the executor's config (orchestration/distributed.py),
so both ends meet on one broker. Each worker's queues are its command line's (`-Q a,b`).
"""

import os

# kombu's SQLAlchemy transport: sqla+postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB
broker_url = os.environ.get("DAGSTER_CELERY_BROKER_URL", "")
# Celery's database result backend: db+postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB
result_backend = os.environ.get("DAGSTER_CELERY_BACKEND_URL", "")
# One step at a time per worker process: a step is a whole `meltano run`, minutes long, and a
# prefetched second one would wait behind it while another worker stands idle.
worker_prefetch_multiplier = 1
