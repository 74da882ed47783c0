"""What the drivers of a cluster share: the tags probed on untagged nodes, and
their queues.

A node started without sio's tags (a plain ``ray start``, a driver's own
``ray.init()``) is probed once — a task pinned to it by node affinity
(:func:`probe_node`) tries a box there — and what it found is kept in the
cluster's registry, a detached actor on the head (:class:`Registry`), for as
long as the cluster lives: every driver reads it instead of probing again.

The registry also knows which nodes the cluster's autoscaler can add (its
worker node types, published on the head by ``sio-ray node-types
~/ray_bootstrap_config.yaml``): a job only such a node can run waits for one.

It keeps each node's latest calibration by ``sio-ray calibrate``
(:mod:`sio_ray.calibration`), which overrides the ``sio-speed`` and
``sio-noise`` labels the node started with.

Every node cache publishes there a summary of what it holds (a Bloom filter
of its files' names, :mod:`sio.workers.filetracker.holdings`), when it
changes and every few seconds; the dispatchers read them to place jobs where
their inputs are cached (:func:`sio_ray.locality.preferred_node`).

Every driver's dispatcher publishes to the registry, about once a second, a
summary of its queue (jobs by contest priority, jobs in Ray, its window, the
nodes it reserved, its stalled jobs); ``sio-ray status`` run from any shell
reads them with :func:`published_queues`.  Summaries older than
:data:`PUBLISHED_TTL` are those of drivers that are gone.
"""

from __future__ import annotations

import time

import ray

#: The Ray namespace of sio_ray's named actors.
NAMESPACE = 'sio'
#: Published queues older than this are from drivers that are gone.
PUBLISHED_TTL = 10.0
#: The name of the cluster's registry actor (in :data:`NAMESPACE`).
REGISTRY_NAME = 'sio-registry'
#: Ray's resource of the head node: the registry lives there (an actor on a
#: judge would keep the autoscaler from ever releasing that judge).
HEAD_RESOURCE = 'node:__internal_head__'


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class Registry:
    """The cluster's shared memory of sio_ray: tags probed on untagged nodes."""

    def __init__(self):
        self._tags: dict[str, dict[str, str]] = {}
        self._queues: dict[str, dict] = {}
        self._node_types: dict[str, dict] = {}
        self._calibrations: dict[str, dict] = {}  # node id -> its latest calibration
        self._holdings: dict[str, dict[str, dict]] = {}  # node id -> central URL -> summary

    def node_tags(self) -> dict[str, dict[str, str]]:
        """The probed tags, by node id."""
        return dict(self._tags)

    def record_tags(self, node_id: str, tags: dict[str, str]) -> None:
        self._tags[node_id] = dict(tags)

    def publish_queue(self, driver: str, summary: dict) -> None:
        self._queues[driver] = {**summary, 'driver': driver}
        stale = time.time() - 10 * PUBLISHED_TTL  # drivers gone long ago
        for gone in [d for d, q in self._queues.items() if q.get('updated', 0) < stale]:
            del self._queues[gone]

    def queues(self) -> list[dict]:
        return list(self._queues.values())

    def set_node_types(self, node_types: dict[str, dict]) -> None:
        self._node_types = dict(node_types)

    def node_types(self) -> dict[str, dict]:
        return dict(self._node_types)

    def record_calibration(self, node_id: str, calibration: dict) -> None:
        self._calibrations[node_id] = dict(calibration)

    def calibrations(self) -> dict[str, dict]:
        """The latest calibration of each node (``sio-ray calibrate``), by node id."""
        return dict(self._calibrations)

    def publish_holdings(self, node_id: str, remote_url: str, summary: dict) -> None:
        self._holdings.setdefault(node_id, {})[remote_url] = summary

    def holdings(self) -> dict[str, dict[str, dict]]:
        """What each node's caches hold: node id -> central server URL -> summary."""
        return {node: dict(by_url) for node, by_url in self._holdings.items()}


_handles: dict[str, object] = {}


def registry():
    """The cluster's :class:`Registry` (created on first use; its handle kept
    for this connection to Ray)."""
    context = ray.get_runtime_context()
    key = f'{context.get_session_name()}:{context.get_job_id()}'  # this cluster, this driver
    handle = _handles.get(key)
    if handle is None:
        head = any(n.get('Alive') and HEAD_RESOURCE in (n.get('Resources') or {})
                   for n in ray.nodes())
        handle = _handles[key] = Registry.options(
            name=REGISTRY_NAME, namespace=NAMESPACE, lifetime='detached', get_if_exists=True,
            resources={HEAD_RESOURCE: 0.001} if head else None).remote()
    return handle


@ray.remote(num_cpus=0, max_retries=0)
def probe_node() -> dict[str, str]:
    """On the node it is pinned to: that node's tags, found by trying."""
    from sio_ray import tags
    return tags.node_labels()


def publish_queue(driver: str, summary: dict) -> None:
    """Publish ``summary`` as the queue of ``driver`` (this driver's Ray job id)."""
    registry().publish_queue.remote(driver, summary)


def published_queues(timeout: float = 30.0) -> list[dict]:
    """The queues that live drivers of the cluster published, freshest first."""
    queues = ray.get(registry().queues.remote(), timeout=timeout)
    now = time.time()
    return sorted((q for q in queues if now - q.get('updated', 0) <= PUBLISHED_TTL),
                  key=lambda q: -q['updated'])


def reserved_nodes() -> set[str]:
    """The nodes drivers reserved for exclusive jobs (drained, or running one)."""
    return {node for q in published_queues() for node in q.get('reserved', ())}


def node_types_of(config: dict) -> dict[str, dict]:
    """The worker node types of an autoscaling cluster config (``cluster.yaml``'s
    ``available_node_types`` but the head's), as the driver plans with them:
    ``{name: {'resources': ..., 'labels': ..., 'max_workers': n}}``."""
    head = config.get('head_node_type')
    types = {}
    for name, spec in (config.get('available_node_types') or {}).items():
        if name == head or not int(spec.get('max_workers', 0) or 0):
            continue
        types[name] = {'resources': dict(spec.get('resources') or {}),
                       'labels': {str(k): str(v) for k, v in (spec.get('labels') or {}).items()},
                       'max_workers': int(spec['max_workers'])}
    return types


def publish_node_types(node_types: dict[str, dict]) -> None:
    """Tell the cluster's drivers which nodes its autoscaler can add (what
    ``sio-ray node-types`` does on the head): jobs that only such a node can
    run wait for one instead of failing, and their demand is reported."""
    ray.get(registry().set_node_types.remote(node_types), timeout=60)


def publish_holdings(node_id: str, remote_url: str, summary: dict) -> None:
    """Publish what the cache of ``node_id`` for ``remote_url`` holds (a
    :meth:`~sio.workers.filetracker.holdings.Holdings.to_dict`); not waited for."""
    registry().publish_holdings.remote(node_id, remote_url, summary)


def node_types(timeout: float = 30.0) -> dict[str, dict]:
    """The node types the cluster's autoscaler can add (empty: none known)."""
    return ray.get(registry().node_types.remote(), timeout=timeout)


def record_calibration(node_id: str, calibration: dict, timeout: float = 60.0) -> None:
    """Keep ``calibration`` (:meth:`sio.workers.calibration.Calibration.to_dict`)
    as the latest of node ``node_id``."""
    ray.get(registry().record_calibration.remote(node_id, calibration), timeout=timeout)


def calibrations(timeout: float = 30.0) -> dict[str, dict]:
    """The latest calibration of each node recorded by ``sio-ray calibrate``."""
    return ray.get(registry().calibrations.remote(), timeout=timeout)
