"""The Ray task every job becomes: the very same ``run`` as ``sio-batch``."""

from __future__ import annotations

import time

import ray

#: System failures (a lost node or worker) are retried this often; job errors never.
MAX_RETRIES = 5


@ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)
def run_job(environ: dict) -> dict:
    """Perform one job on this node and return the result environ."""
    from sio.workers import stats
    from sio.workers.runner import run
    from sio_ray import bounds, metrics, nodecache
    started = time.monotonic()
    bounds.announce_start(str(environ.get('job_type')))  # the clock of the job's bound
    try:
        nodecache.ensure_for(environ)
        cache_error = None
    except nodecache.NodeCacheError as exc:  # the job fetches by itself
        cache_error = str(exc)
    result = run(environ)
    if cache_error:
        result['node_cache_error'] = cache_error
    metrics.job_finished(result, time.monotonic() - started)
    metrics.export(stats.take())
    return result
