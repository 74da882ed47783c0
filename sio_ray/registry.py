"""What drivers of a cluster publish for anyone to read: their queues.

Every driver's dispatcher publishes, about once a second, a summary of its
queue (jobs by contest priority, jobs in Ray, its window); ``sio-ray status``
run from any shell reads them with :func:`published_queues`.  Summaries older
than :data:`PUBLISHED_TTL` are those of drivers that are gone.
"""

from __future__ import annotations

import json
import time

#: The Ray namespace of sio_ray's named actors.
NAMESPACE = 'sio'
_KV_NAMESPACE = 'sio'
_KV_PREFIX = 'sio-queue:'
#: Published queues older than this are from drivers that are gone.
PUBLISHED_TTL = 10.0


def publish_queue(driver: str, summary: dict) -> None:
    """Publish ``summary`` as the queue of ``driver`` (this driver's Ray job id)."""
    from ray.experimental.internal_kv import _internal_kv_put
    _internal_kv_put(_KV_PREFIX + driver, json.dumps(summary), namespace=_KV_NAMESPACE)


def published_queues() -> list[dict]:
    """The queues that live drivers of the cluster published, freshest first."""
    from ray.experimental.internal_kv import _internal_kv_get, _internal_kv_list
    queues = []
    for key in _internal_kv_list(_KV_PREFIX, namespace=_KV_NAMESPACE):
        try:
            summary = json.loads(_internal_kv_get(key, namespace=_KV_NAMESPACE))
        except (TypeError, ValueError):
            continue
        if time.time() - summary.get('updated', 0) <= PUBLISHED_TTL:
            summary['driver'] = key.decode().removeprefix(_KV_PREFIX)
            queues.append(summary)
    return sorted(queues, key=lambda q: -q['updated'])
