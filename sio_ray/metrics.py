"""Metrics through ``ray.util.metrics``, exported by every node's Ray agent
(Prometheus format; names get Ray's ``ray_`` prefix):

* ``sio_jobs`` (counter): finished jobs by ``job_type`` and ``result_code``
  (``FAILURE`` when the job itself failed);
* ``sio_job_run_seconds`` (histogram): time a job took on its node, by ``job_type``;
* ``sio_queue_wait_seconds`` (histogram): time a job waited in the driver's
  queue before Ray got it, by ``job_type``;
* ``sio_queue_length`` (gauge): jobs waiting in a driver's queue.

Recording a metric never fails a job.
"""

from __future__ import annotations

import functools
import logging

logger = logging.getLogger(__name__)

_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300]


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
        'queued': Gauge('sio_queue_length', description="Jobs in the driver's queue."),
    }


def _safely(record) -> None:
    try:
        record(_metrics())
    except Exception:  # metrics are for people; a job never fails over them
        logger.debug('metric not recorded', exc_info=True)


def job_finished(result: dict, seconds: float) -> None:
    job_type = str(result.get('job_type'))
    code = result.get('result_code') if result.get('result') == 'SUCCESS' else 'FAILURE'

    def record(m):
        m['jobs'].inc(tags={'job_type': job_type, 'result_code': str(code)})
        m['run'].observe(seconds, tags={'job_type': job_type})
    _safely(record)


def job_dispatched(environ: dict, waited: float, queued: int) -> None:
    def record(m):
        m['wait'].observe(waited, tags={'job_type': str(environ.get('job_type'))})
        m['queued'].set(queued)
    _safely(record)
