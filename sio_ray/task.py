"""The Ray task every job becomes: the very same ``run`` as ``sio-batch``."""

from __future__ import annotations

import sys
import time

import ray

#: System failures (a lost node or worker) are retried this often; job errors never.
MAX_RETRIES = 5


@ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)
def run_job(environ: dict) -> dict:
    """Perform one job on this node and return the result environ."""
    from sio.workers import stats
    from sio.workers.runner import run
    from sio_ray import bounds, calibration, metrics, nodecache, placement
    started = time.monotonic()
    context = ray.get_runtime_context()
    # The task's log (the dashboard shows it with the task) says which job it is.
    print(f'sio job {placement.job_id(environ)} ({environ.get("job_type")})', file=sys.stderr,
          flush=True)
    bounds.announce_start(str(environ.get('job_type')))  # the clock of the job's bound
    try:
        cache = nodecache.ensure_for(environ)
        cache_error = None
    except nodecache.NodeCacheError as exc:  # the job fetches by itself
        cache, cache_error = None, str(exc)
    result = run(environ)
    if cache_error:
        result['node_cache_error'] = cache_error
    # Beside upstream's `worker` (the host name): Ray's names for where it ran.
    result['ray_node_id'] = context.get_node_id()
    result['ray_task_id'] = context.get_task_id()
    speed = calibration.node_speed()  # the node's speed, where it was calibrated
    if speed is not None:
        result['node_speed_factor'] = speed
    metrics.job_finished(result, time.monotonic() - started)
    recorded = stats.take()
    metrics.export(recorded)
    if cache is not None:
        nodecache.report(environ, recorded)  # the job's own cache hits, for `sio-ray status`
    return result
