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
one: the task announces its start to its driver's :class:`Clock` (an actor
that ends with the driver), which the dispatcher asks every quarter of a
second; a task that starts again after a system failure is a new attempt,
whose clock starts anew.  A job
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
_CLOCK_PREFIX = 'sio-clock:'

logger = logging.getLogger(__name__)


def bound_for(environ: dict, req: Requirements | None = None) -> WallBound:
    """The wall-clock bound of a job (whose requirements are ``req``, if
    already known) under this driver's settings; a bad ``job_real_time_limit``
    or limit raises :class:`ValueError` naming the key."""
    return job_wall_bound(environ, default_s=settings.RAY_JOB_WALL_LIMIT.get(),
                          margin_s=settings.RAY_JOB_WALL_MARGIN.get(), req=req)


def clock_name(job_id: str) -> str:
    return f'{_CLOCK_PREFIX}{job_id}'


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class Clock:
    """One driver's record of which of its tasks started, and how often (a
    task that starts again after a system failure is a new attempt)."""

    def __init__(self):
        self._starts: dict[str, int] = {}

    def started(self, task_id: str, job_type: str) -> int:
        """Count a start of ``task_id``; which attempt it is (0 for the first)."""
        self._starts[task_id] = self._starts.get(task_id, 0) + 1
        if self._starts[task_id] > 1:  # started again after a system failure
            from sio_ray import metrics
            metrics.job_retried({'job_type': job_type})
        return self._starts[task_id] - 1

    def poll(self, forget: list[str]) -> dict[str, int]:
        """Drop the tasks in ``forget``; the others that started, by task id,
        with their latest attempt (0 for the first)."""
        for task_id in forget:
            self._starts.pop(task_id, None)
        return {task_id: count - 1 for task_id, count in self._starts.items()}


def start_clock():
    """In the driver: its :class:`Clock` (created on first use; it ends with the
    driver), on the head node where there is one."""
    from sio_ray.registry import HEAD_RESOURCE, NAMESPACE
    head = any(n.get('Alive') and HEAD_RESOURCE in (n.get('Resources') or {})
               for n in ray.nodes())
    return Clock.options(name=clock_name(ray.get_runtime_context().get_job_id()),
                         namespace=NAMESPACE, get_if_exists=True,
                         resources={HEAD_RESOURCE: 0.001} if head else None).remote()


_clocks: dict[str, object] = {}


def announce_start(job_type: str) -> None:
    """In a task: tell its driver's clock that this attempt has started.  The
    message is not waited for (that would cost every job a round trip): a
    start told by a node that dies a moment later may be lost, and the retry
    then counts as the first attempt — its bound is the same, only
    ``sio_job_retries`` misses it.  Never fails the job: one that cannot tell
    runs without a bound."""
    context = ray.get_runtime_context()
    job_id = context.get_job_id()
    try:
        clock = _clocks.get(job_id)
        if clock is None:
            from sio_ray.registry import NAMESPACE
            clock = _clocks[job_id] = ray.get_actor(clock_name(job_id), namespace=NAMESPACE)
        clock.started.remote(context.get_task_id(), job_type)
    except Exception:
        logger.warning('could not announce the start of a job: it runs without a wall-clock '
                       'bound', exc_info=True)


def started_attempts(clock, forget: list[str]) -> dict[str, int]:
    """In the driver: the tasks that announced a start (task id in hex: their
    latest attempt), having dropped those in ``forget``."""
    return ray.get(clock.poll.remote(forget), timeout=30)
