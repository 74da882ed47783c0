"""The Ray task every job becomes: the very same ``run`` as ``sio-batch``."""

from __future__ import annotations

import time

import ray

#: System failures (a lost node or worker) are retried this often; job errors never.
MAX_RETRIES = 5


def _attempt() -> int:
    """Which attempt of its task this is (0 for the first; Ray has no public call for it)."""
    try:
        return int(ray._private.worker.global_worker.core_worker.get_current_task_attempt_number())
    except Exception:
        return 0


@ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)
def run_job(environ: dict) -> dict:
    """Perform one job on this node and return the result environ."""
    from sio.workers import stats
    from sio.workers.runner import run
    from sio_ray import bounds, metrics, nodecache
    started = time.monotonic()
    attempt = _attempt()
    announced = bounds.announce_start(attempt)  # the driver's clock for the job's bound
    try:
        metrics.job_started(environ, attempt)
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
    finally:
        bounds.withdraw(announced)
