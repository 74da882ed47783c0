"""The Ray nodes as sioworkersd's workers (``get_workers``, ``forget_worker``).

Every alive Ray node that can run jobs (has CPUs) is one worker::

    {'name': 'judge1:4f1c2a9b',            # host name : the node id's start
     'info': {'name': ..., 'concurrency': 8,          # the node's CPUs
              'can_run_cpu_exec': True,   # working sandboxes (its tags, or a probe's)
              'available_ram_mb': 15872,  # the node's memory for tasks (MiB)
              'host': ['10.0.0.2', 40123], 'node_id': '4f1c2a9b...'},
     'tasks': ['sio:sio2jail-exec:urn:uuid:...', ...],  # the sio jobs running there
     'is_running_cpu_exec': False}        # a driver keeps the node for an exclusive job

``tasks`` lists the jobs running on the node (from Ray's State API; empty
where it cannot be asked), as OIOIOI only counts them: the gateway's own by
job type and task id, other drivers' by job type.
"""

from __future__ import annotations

import logging
import time

import ray

from sio_ray import load, registry, tags

logger = logging.getLogger(__name__)

_MIB = 1 << 20


def worker_name(node: dict) -> str:
    return f"{node.get('NodeManagerHostname') or node.get('NodeManagerAddress')}:" \
           f"{node['NodeID'][:8]}"


def _running_tasks(timeout: float = 5.0) -> dict[str, list[str]]:
    """``{node id: [the sio jobs running there]}``, or {} if Ray cannot tell:
    ``sio:<job type>:<task id>`` for this gateway's own jobs (upstream lists
    task ids), the Ray task's name (``sio:<job type>``) for other drivers'."""
    import sio_ray
    tasks = load.running_tasks(timeout) or []
    mine = sio_ray.connect().dispatcher.running()
    running: dict[str, list[str]] = {}
    for task in tasks:
        if (task.name or '').startswith('sio:') and task.node_id:
            environ = mine.get(task.task_id) or {}
            job = environ.get('task_id') or environ.get('job_id')
            running.setdefault(task.node_id, []).append(
                f'{task.name}:{job}' if job else task.name)
    return running


def get_workers() -> list[dict]:
    """The workers, in sioworkersd's shape (see the module docs)."""
    import sio_ray
    running = _running_tasks()
    # What nodes can do: their labels, or what a probe found (sio_ray.registry);
    # which ones drivers keep for an exclusive job: what they published.
    known = {n.node_id: n for n in sio_ray.connect().dispatcher.nodes()}
    try:
        reserved = registry.reserved_nodes()
    except Exception as exc:
        logger.debug('the published queues could not be read: %s', exc)
        reserved = set()
    workers = []
    for node in ray.nodes():
        total = node.get('Resources') or {}
        if not node.get('Alive') or total.get('CPU', 0) <= 0:
            continue
        node_id = node['NodeID']
        tagged = known.get(node_id)
        able = tagged is not None and tagged.tags.get(tags.SANDBOX) == 'true'
        name = worker_name(node)
        info = {'name': name,
                'concurrency': int(total.get('CPU', 0)),
                'can_run_cpu_exec': able,
                'available_ram_mb': int(total.get('memory', 0) // _MIB),
                'host': [node.get('NodeManagerAddress'), node.get('NodeManagerPort')],
                'node_id': node_id}
        workers.append({'name': name, 'info': info, 'tasks': running.get(node_id, []),
                        'is_running_cpu_exec': able and node_id in reserved})
    return sorted(workers, key=lambda w: w['name'])


def forget_worker(name: str) -> bool:
    """Forget a worker that is gone.  A dead Ray node is not listed anyway, so
    there is nothing to do (True).  A live node cannot be forgotten: Ray gives
    it jobs as long as it runs (raises :class:`ValueError`: stop Ray there)."""
    for node in ray.nodes():
        if node.get('Alive') and name in (worker_name(node), node['NodeID']):
            raise ValueError(f'worker {name!r} is a live Ray node: sio-ray judges on every '
                             'live node; to retire it, stop Ray on that machine (`ray stop`)')
    return True


class Cached:
    """A function's answer, kept for ``ttl`` seconds (the admin page polls)."""

    def __init__(self, fn, ttl: float = 2.0):
        self._fn, self._ttl = fn, ttl
        self._value, self._at = None, -ttl

    def __call__(self):
        if time.monotonic() - self._at >= self._ttl:
            self._value, self._at = self._fn(), time.monotonic()
        return self._value
