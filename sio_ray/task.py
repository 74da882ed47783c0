"""The Ray task every job becomes: the very same ``run`` as ``sio-batch``."""

from __future__ import annotations

import time

import ray

#: System failures (a lost node or worker) are retried this often; job errors never.
MAX_RETRIES = 5


@ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)
def run_job(environ: dict) -> dict:
    """Perform one job on this node and return the result environ."""
    from sio.workers.runner import run
    from sio_ray import metrics
    started = time.monotonic()
    result = run(environ)
    metrics.job_finished(result, time.monotonic() - started)
    return result
