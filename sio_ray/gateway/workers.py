"""The Ray nodes as sioworkersd's workers (``get_workers``, ``forget_worker``).

Every alive Ray node that can run jobs (has CPUs) is one worker::

    {'name': 'judge1:4f1c2a9b',            # host name : the node id's start
     'info': {'name': ..., 'concurrency': 8,          # the node's CPUs
              'can_run_cpu_exec': True,   # a node slot for exclusive jobs, working sandboxes
              'available_ram_mb': 15872,  # the node's memory for tasks (MiB)
              'host': ['10.0.0.2', 40123], 'node_id': '4f1c2a9b...'},
     'tasks': ['sio:sio2jail-exec:urn:uuid:...', ...],  # the sio jobs running there
     'is_running_cpu_exec': False}        # an exclusive job holds the node

``tasks`` lists the Ray names of the jobs running on the node (from Ray's
State API; empty where it cannot be asked), as OIOIOI only counts them.
"""

from __future__ import annotations

import logging
import time

import ray

from sio_ray import tags

logger = logging.getLogger(__name__)

_MIB = 1 << 20


def worker_name(node: dict) -> str:
    return f"{node.get('NodeManagerHostname') or node.get('NodeManagerAddress')}:" \
           f"{node['NodeID'][:8]}"


def _running_tasks(timeout: float = 5.0) -> dict[str, list[str]]:
    """``{node id: [names of sio tasks running there]}``, or {} if Ray cannot tell."""
    try:
        from ray._private.worker import get_dashboard_url
        from ray.util.state import list_tasks
        # Name this cluster's dashboard: with no address Ray looks for "the"
        # cluster on this machine and gives up when it finds several.
        dashboard = get_dashboard_url()
        tasks = list_tasks(address=f'http://{dashboard}' if dashboard else None,
                           filters=[('state', '=', 'RUNNING')], limit=10000, timeout=timeout,
                           raise_on_missing_output=False)
    except Exception as exc:
        logger.debug('the State API did not answer: %s', exc)
        return {}
    running: dict[str, list[str]] = {}
    for task in tasks:
        if (task.name or '').startswith('sio:') and task.node_id:
            running.setdefault(task.node_id, []).append(task.name)
    return running


def get_workers() -> list[dict]:
    """The workers, in sioworkersd's shape (see the module docs)."""
    from ray._private.state import available_resources_per_node
    available = available_resources_per_node()
    running = _running_tasks()
    workers = []
    for node in ray.nodes():
        total = node.get('Resources') or {}
        if not node.get('Alive') or total.get('CPU', 0) <= 0:
            continue
        node_id = node['NodeID']
        labels = node.get('Labels') or {}
        # Ray leaves out of a node's available resources the ones all taken.
        free = available.get(node_id, {'CPU': total.get('CPU', 0), tags.NODE_SLOT: 1})
        has_slot = total.get(tags.NODE_SLOT, 0) >= 1
        name = worker_name(node)
        info = {'name': name,
                'concurrency': int(total.get('CPU', 0)),
                'can_run_cpu_exec': has_slot and labels.get(tags.SANDBOX) == 'true',
                'available_ram_mb': int(total.get('memory', 0) // _MIB),
                'host': [node.get('NodeManagerAddress'), node.get('NodeManagerPort')],
                'node_id': node_id}
        workers.append({'name': name, 'info': info, 'tasks': running.get(node_id, []),
                        'is_running_cpu_exec': has_slot and
                        free.get(tags.NODE_SLOT, 0) < tags.ORDINARY_SLOT})
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
