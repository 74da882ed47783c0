"""No job holds a worker forever: every running job has a wall-clock bound.

The bound comes from the job's own limits (:func:`sio.workers.wallbound.job_wall_bound`:
what its runs may take by their wall-clock limits, plus a margin), or from
``environ['job_real_time_limit']`` (ms).  Two settings of the driver's
environment tune it:

* ``SIO_RAY_JOB_WALL_MARGIN`` — seconds added to what a job's runs may take
  (default 300);
* ``SIO_RAY_JOB_WALL_LIMIT`` — the bound, in seconds, of a job whose limits
  give none: a plugin's job type, an unprotected run without a time limit
  (default 3600).

The clock starts when the job starts on its worker, not while it waits for
one: the task announces its start (and which attempt it is) in Ray's
key-value store, where the dispatcher looks every quarter of a second.  A job
past its bound is interrupted (its boxes are killed as on a cancel); one that
does not stop within :data:`FORCE_AFTER` seconds loses its worker process.
Either way it comes back once, as ``result: FAILURE`` naming the bound, and Ray
does not run it again (cancelled tasks are never retried).
"""

from __future__ import annotations

import logging

import ray

from sio.workers import settings
from sio.workers.requirements import Requirements
from sio.workers.wallbound import WallBound, job_wall_bound

MARGIN_VARIABLE = settings.RAY_JOB_WALL_MARGIN.name
DEFAULT_VARIABLE = settings.RAY_JOB_WALL_LIMIT.name
#: Seconds an interrupted job has to stop before its worker process is killed.
FORCE_AFTER = 5.0
#: How often the dispatcher looks for started jobs and jobs past their bound (s).
POLL_INTERVAL = 0.25
_NAMESPACE = 'sio'
_PREFIX = 'sio-run:'

logger = logging.getLogger(__name__)


def bound_for(environ: dict, req: Requirements | None = None) -> WallBound:
    """The wall-clock bound of a job (whose requirements are ``req``, if
    already known) under this driver's settings; a bad ``job_real_time_limit``
    or limit raises :class:`ValueError` naming the key."""
    return job_wall_bound(environ, default_s=settings.RAY_JOB_WALL_LIMIT.get(),
                          margin_s=settings.RAY_JOB_WALL_MARGIN.get(), req=req)


def _driver_prefix(job_id: str) -> str:
    return f'{_PREFIX}{job_id}:'


def announce_start(attempt: int) -> str | None:
    """In a task: tell the driver that this attempt has started; returns the key
    to :func:`withdraw` when it ends (None if it could not be announced)."""
    try:
        from ray.experimental.internal_kv import _internal_kv_put
        context = ray.get_runtime_context()
        key = f'{_driver_prefix(context.get_job_id())}{context.get_task_id()}:{attempt}'
        _internal_kv_put(key, b'', namespace=_NAMESPACE)
        return key
    except Exception:  # never fails the job; it then runs without a bound
        logger.warning('could not announce the start of a job: it runs without a wall-clock '
                       'bound', exc_info=True)
        return None


def withdraw(key: str | None) -> None:
    if key is None:
        return
    try:
        from ray.experimental.internal_kv import _internal_kv_del
        _internal_kv_del(key, namespace=_NAMESPACE)
    except Exception:
        pass


def started_attempts() -> dict[str, int]:
    """In the driver: the tasks of this driver that announced a start, by task
    id (hex), with the latest attempt announced."""
    from ray.experimental.internal_kv import _internal_kv_list
    prefix = _driver_prefix(ray.get_runtime_context().get_job_id())
    started: dict[str, int] = {}
    for key in _internal_kv_list(prefix, namespace=_NAMESPACE):
        task_id, _, attempt = key.decode().removeprefix(prefix).rpartition(':')
        try:
            started[task_id] = max(started.get(task_id, -1), int(attempt))
        except ValueError:
            continue
    return started


def forget(task_id: str) -> None:
    """In the driver: drop what a stopped task announced (it could not)."""
    try:
        from ray.experimental.internal_kv import _internal_kv_del
        prefix = f'{_driver_prefix(ray.get_runtime_context().get_job_id())}{task_id}:'
        _internal_kv_del(prefix, del_by_prefix=True, namespace=_NAMESPACE)
    except Exception:
        pass
