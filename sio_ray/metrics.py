"""Metrics through ``ray.util.metrics``, exported by every node's Ray agent
(Prometheus format; names get Ray's ``ray_`` prefix):

* ``sio_jobs`` (counter): finished jobs by ``job_type`` and ``result_code``
  (``FAILURE`` when the job itself failed, ``SUCCESS`` for a job that gives
  no code: no label is ever ``None``);
* ``sio_job_run_seconds`` (histogram): time a job took on its node, by ``job_type``;
* ``sio_queue_wait_seconds`` (histogram): time a job waited in the driver's
  queue before Ray got it, by ``job_type``;
* ``sio_queue_length`` (gauge): jobs waiting in a driver's queue, by
  ``contest_priority`` (and ``driver``, the driver's Ray job id);
* ``sio_job_retries`` (counter): jobs started again after a system failure
  (a lost node or worker), by ``job_type`` (counted by the driver's clock,
  :class:`sio_ray.bounds.Clock`);
* what the core recorded (:mod:`sio.workers.stats`), under the same names
  prefixed ``sio_``: ``sio_ft_cache_hits``, ``sio_ft_cache_misses``,
  ``sio_ft_cache_stale``, ``sio_ft_cache_hit_bytes``,
  ``sio_ft_cache_miss_bytes``, ``sio_ft_cache_evicted_bytes`` (counters;
  a node cache server's and its jobs' together) and
  ``sio_sandbox_overhead_seconds`` (histogram: time a box run took beyond the
  program's own wall time).

Recording a metric never fails a job.
"""

from __future__ import annotations

import functools
import logging

from sio.workers.results import FAILURE, SUCCESS

logger = logging.getLogger(__name__)

_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300]
_OVERHEAD_SECONDS = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]


@functools.lru_cache(maxsize=None)
def _metrics() -> dict:
    from ray.util.metrics import Counter, Gauge, Histogram
    return {
        'jobs': Counter('sio_jobs', description='Finished jobs by type and result code.',
                        tag_keys=('job_type', 'result_code')),
        'run': Histogram('sio_job_run_seconds', description='Run time of a job on its node.',
                         boundaries=_SECONDS, tag_keys=('job_type',)),
        'wait': Histogram('sio_queue_wait_seconds',
                          description="Time in the driver's queue before Ray got the job.",
                          boundaries=_SECONDS, tag_keys=('job_type',)),
        'queued': Gauge('sio_queue_length',
                        description="Jobs in a driver's queue, by contest priority.",
                        tag_keys=('contest_priority', 'driver')),
        'retries': Counter('sio_job_retries', description='Jobs started again after a system failure.',
                           tag_keys=('job_type',)),
    }


@functools.lru_cache(maxsize=None)
def _core_counter(name: str):
    from ray.util.metrics import Counter
    return Counter(f'sio_{name}', description=f'sio.workers.stats {name} (see sio_ray.metrics).')


@functools.lru_cache(maxsize=None)
def _core_histogram(name: str):
    from ray.util.metrics import Histogram
    return Histogram(f'sio_{name}', description=f'sio.workers.stats {name} (see sio_ray.metrics).',
                     boundaries=_OVERHEAD_SECONDS)


def _safely(record) -> None:
    try:
        record(_metrics())
    except Exception:  # metrics are for people; a job never fails over them
        logger.debug('metric not recorded', exc_info=True)


def job_finished(result: dict, seconds: float) -> None:
    job_type = str(result.get('job_type'))
    if result.get('result') != SUCCESS:
        code = FAILURE
    else:  # a job without a result code (ping, ft-check...) counts as SUCCESS
        code = result.get('result_code') or SUCCESS

    def record(m):
        m['jobs'].inc(tags={'job_type': job_type, 'result_code': str(code)})
        m['run'].observe(seconds, tags={'job_type': job_type})
    _safely(record)


def job_retried(environ: dict) -> None:
    """A job started again after a system failure (counted by its driver's clock,
    :class:`sio_ray.bounds.Clock`)."""
    _safely(lambda m: m['retries'].inc(tags={'job_type': str(environ.get('job_type'))}))


def export(recorded) -> None:
    """Add what the core recorded (:func:`sio.workers.stats.take`) to the metrics."""
    def record(_m):
        for name, amount in recorded.counters.items():
            if amount > 0:
                _core_counter(name).inc(amount)
        for name, values in recorded.timings.items():
            histogram = _core_histogram(name)
            for value in values:
                histogram.observe(value)
    _safely(record)


def job_dispatched(environ: dict, waited: float) -> None:
    _safely(lambda m: m['wait'].observe(waited, tags={'job_type': str(environ.get('job_type'))}))


def queue_lengths(driver: str, by_priority: dict[float, int]) -> None:
    """Jobs in the driver's queue by contest priority (0 for the priorities
    that emptied since)."""
    def record(m):
        for priority, count in by_priority.items():
            m['queued'].set(count, tags={'contest_priority': f'{priority:g}', 'driver': driver})
    _safely(record)
