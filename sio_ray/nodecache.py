"""One filetracker node cache server per node and central server, kept by Ray.

Before a job runs, its task makes sure a node cache server
(:class:`sio.workers.filetracker.server.NodeCacheServer`) for the job's central server is
registered and alive on the node.  When none is — a node where no system
service runs ``sio-run-filetracker`` — the task creates a detached actor
pinned to its node (``get_if_exists`` makes it one actor however many tasks
race) that runs the server in its process and exports the server's counters
as Ray metrics.  Ray restarts the actor, and so the server, when its process
dies; the actor dies with its node.  While no server answers, jobs fetch from
the central server themselves, so a job never fails for want of one; why none
could be had is in its result, ``node_cache_error``.

The actor also publishes what its node's store holds (:func:`publish_holdings`):
a summary (:mod:`sio.workers.filetracker.holdings`) made again within
:data:`HOLDINGS_CHECK` seconds of a change of the store by its server (a
file fetched, uploaded or evicted) and at least every
:data:`HOLDINGS_REPUBLISH` seconds, sent to the cluster's registry, where the
drivers' dispatchers read it to place jobs where their inputs are cached;
reading the store takes at most :data:`HOLDINGS_SHARE` of a CPU (a store of
20 000 files takes about half a second to read here: it is summarized again
every 25 s at most).
Where the node cache runs as a service of its own, a smaller actor
(:class:`HoldingsPublisher`) publishes the summary every
:data:`HOLDINGS_REPUBLISH` seconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time

import ray

from sio.workers import ft, stats
from sio.workers.filetracker import holdings
from sio.workers.filetracker.server import AlreadyRunning, NodeCacheServer
from sio_ray import metrics, registry
from sio_ray.registry import NAMESPACE

logger = logging.getLogger(__name__)

ACTOR_PREFIX = 'sio-ft-cache'
#: Seconds a task waits for the node's server before fetching by itself.
START_TIMEOUT = 30.0
#: Seconds between looks at whether the store changed (its summary is then made again).
HOLDINGS_CHECK = 0.5
#: Seconds after which the summary is made and published again anyway (files
#: fetched by jobs themselves, a registry restarted).
HOLDINGS_REPUBLISH = 5.0
#: The most of its time a publisher spends reading the store (0.5 s for a
#: summary of a large store: one every 25 s at most).
HOLDINGS_SHARE = 0.02


def actor_name(node_id: str, remote_url: str) -> str:
    return f'{ACTOR_PREFIX}:{node_id}:{hashlib.md5(remote_url.encode()).hexdigest()[:12]}'


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class NodeCache:
    """The actor holding a node's cache server for one central server."""

    def __init__(self, remote_url: str):
        self.remote_url = remote_url
        self.server: NodeCacheServer | None = None
        self._lock = threading.Lock()
        self._job_counters: dict[str, float] = {}  # what jobs read straight from the store
        self._held_files: int | None = None  # in the latest summary published
        try:  # at once (also when Ray restarts the actor); a failure is told by ensure()
            self.ensure()
        except Exception:
            logger.warning('Cannot start a node cache server for %s', remote_url, exc_info=True)
        threading.Thread(target=self._export_metrics, name='sio-ft-cache-metrics',
                         daemon=True).start()
        threading.Thread(target=self._publish_holdings, name='sio-ft-cache-holdings',
                         daemon=True).start()

    def ensure(self) -> str:
        """The URL of the node's live server, started here if there is none."""
        with self._lock:
            running = ft.node_cache_url(self.remote_url)
            if running:
                return running
            if self.server is not None:  # ours, but no longer registered as alive
                self.server.close()
                self.server = None
            try:
                self.server = NodeCacheServer(self.remote_url).start()
            except AlreadyRunning as exc:  # started by someone else a moment ago
                return exc.url
            return self.server.url

    def add_job_counters(self, counters: dict[str, float]) -> None:
        """Count what a job of this node did with the cache by itself (it reads
        cached files straight from the store: those hits never reach the server)."""
        with self._lock:
            for name, amount in counters.items():
                self._job_counters[name] = self._job_counters.get(name, 0) + amount

    def describe(self) -> dict:
        """The server's ``/stats`` and the node; ``counters`` are the server's
        and the jobs' together (``job_counters``: the jobs' alone)."""
        node_id = ray.get_runtime_context().get_node_id()
        if self.server is not None:
            described = {**self.server.describe(), 'node_id': node_id}
        else:
            described = {'url': ft.node_cache_url(self.remote_url), 'remote_url': self.remote_url,
                         'pid': os.getpid(), 'node_id': node_id, 'counters': stats.totals()}
        with self._lock:
            jobs = dict(self._job_counters)
        counters = dict(described.get('counters') or {})
        for name, amount in jobs.items():
            counters[name] = counters.get(name, 0) + amount
        return {**described, 'counters': counters, 'job_counters': jobs,
                'held_files': self._held_files}

    def _export_metrics(self) -> None:
        while True:
            time.sleep(1.0)
            metrics.export(stats.take())

    def _publish_holdings(self) -> None:
        def published(summary: holdings.Holdings) -> None:
            self._held_files = summary.names // 2  # each file as name and name@version

        # The server's fills, uploads and evictions move its counters.
        _keep_publishing(self.remote_url, lambda: tuple(sorted(
            (name, amount) for name, amount in stats.totals().items()
            if not name.startswith('ft_cache_hit'))), published)


@ray.remote(num_cpus=0, max_restarts=-1)
class HoldingsPublisher:
    """Where the node's cache server runs as a service of its own: publishes
    what its store holds, every :data:`HOLDINGS_REPUBLISH` seconds."""

    def __init__(self, remote_url: str):
        threading.Thread(target=_keep_publishing, args=(remote_url, lambda: None),
                         name='sio-ft-cache-holdings', daemon=True).start()


def _keep_publishing(remote_url: str, changes, published=lambda summary: None) -> None:
    """Publish what this node's store for ``remote_url`` holds whenever
    ``changes()`` says something new, and every :data:`HOLDINGS_REPUBLISH` s;
    never more than :data:`HOLDINGS_SHARE` of the time reading the store (a
    large store is read less often: the node's CPUs are its jobs')."""
    node_id = ray.get_runtime_context().get_node_id()
    seen, last, took = None, -HOLDINGS_REPUBLISH, 0.0
    while True:
        time.sleep(HOLDINGS_CHECK)
        now, since = changes(), time.monotonic() - last
        if (now == seen and since < HOLDINGS_REPUBLISH) or since < took / HOLDINGS_SHARE:
            continue
        try:
            start = time.monotonic()
            published(publish_holdings(node_id, remote_url))
            done = time.monotonic()
            seen, took, last = now, done - start, done
        except Exception:
            logger.debug('holdings not published', exc_info=True)


def publish_holdings(node_id: str, remote_url: str) -> holdings.Holdings:
    """Summarize this node's store for ``remote_url`` and publish it in the
    cluster's registry as what node ``node_id`` holds."""
    summary = holdings.summarize(ft.cache_dir_for(remote_url))
    registry.publish_holdings(node_id, remote_url, summary.to_dict())
    return summary


class NodeCacheError(RuntimeError):
    """No node cache server could be had; the job fetches by itself."""


def ensure_for(environ: dict) -> str | None:
    """Make sure this node has a live cache server for the environ's central
    filetracker server; return its URL (None when the job needs none).

    Raises :class:`NodeCacheError` saying why when none could be had (the
    job still runs, fetching by itself)."""
    url = environ.get('filetracker_url') or os.environ.get('FILETRACKER_URL')
    if not isinstance(url, str) or not url or environ.get('use_filetracker', True) is False:
        return None
    try:
        running = ft.node_cache_url(url)
        if running:
            _ensure_publisher(url)
            return running
        node_id = ray.get_runtime_context().get_node_id()
        actor = NodeCache.options(
            name=actor_name(node_id, url), namespace=NAMESPACE, lifetime='detached',
            get_if_exists=True, label_selector={'ray.io/node-id': node_id},
        ).remote(url)
        return ray.get(actor.ensure.remote(), timeout=START_TIMEOUT)
    except Exception as exc:
        logger.warning('No node cache server for %s on this node', url, exc_info=True)
        cause = getattr(exc, 'cause', None) or exc  # a RayTaskError carries the actor's
        message = ' '.join(f'{type(cause).__name__}: {cause}'.split())[:500]
        raise NodeCacheError(f'no node cache server for {url} on this node: {message}') from exc


_publishers: set[str] = set()  # central servers whose publisher this worker made sure of


def _ensure_publisher(url: str) -> None:
    """Where the node cache runs as a service: make sure (once per worker
    process) that a :class:`HoldingsPublisher` publishes what it holds."""
    if url in _publishers:
        return
    try:
        node_id = ray.get_runtime_context().get_node_id()
        HoldingsPublisher.options(
            name=f'sio-ft-holdings:{actor_name(node_id, url).split(":", 1)[1]}',
            namespace=NAMESPACE, lifetime='detached', get_if_exists=True,
            label_selector={'ray.io/node-id': node_id}).remote(url)
        _publishers.add(url)
    except Exception:
        logger.debug('no publisher of the node cache\'s holdings', exc_info=True)


_actors: dict[str, tuple[object, float]] = {}  # this worker's look-ups: actor, when


def report(environ: dict, recorded) -> None:
    """After a job: give what it counted of the node cache (:mod:`sio.workers.stats`)
    to the node's cache actor, for ``sio-ray status`` (never fails the job;
    nothing to do where the cache runs as a service of its own)."""
    counters = {name: amount for name, amount in recorded.counters.items()
                if name.startswith('ft_cache_') and amount}
    url = environ.get('filetracker_url') or os.environ.get('FILETRACKER_URL')
    if not counters or not isinstance(url, str):
        return
    try:
        name = actor_name(ray.get_runtime_context().get_node_id(), url)
        actor, looked = _actors.get(name, (None, 0.0))
        if actor is None and time.monotonic() - looked > 60:
            try:
                actor = ray.get_actor(name, namespace=NAMESPACE)
            except ValueError:  # no actor: the node cache is a service of its own
                actor = None
            _actors[name] = (actor, time.monotonic())
        if actor is not None:
            actor.add_job_counters.remote(counters)
    except Exception:
        logger.debug('node cache counters not reported', exc_info=True)


def describe_all(timeout: float = 10.0) -> list[dict]:
    """What the cluster's node cache actors say of themselves (empty when the
    State API cannot be reached); for ``sio-ray status`` and the demo."""
    from ray.util.state import list_actors
    try:
        found = list_actors(address=ray.get_runtime_context().gcs_address,
                            filters=[('class_name', '=', 'NodeCache'), ('state', '=', 'ALIVE')],
                            raise_on_missing_output=False)
    except Exception:
        logger.debug('State API unavailable', exc_info=True)
        return []
    described = []
    for entry in found:
        try:
            actor = ray.get_actor(entry.name, namespace=NAMESPACE)
            described.append(ray.get(actor.describe.remote(), timeout=timeout))
        except Exception:
            logger.debug('%s did not answer', entry.name, exc_info=True)
    return described


def summary(described: dict) -> str:
    """One line for a node cache: where, and its counters."""
    c = described.get('counters', {})
    direct = (described.get('job_counters') or {}).get('ft_cache_hits', 0)
    return (f"node cache {described.get('url')} on node {str(described.get('node_id'))[:12]}: "
            f"{c.get('ft_cache_hits', 0):g} hits ({direct:g} read by jobs straight from the "
            f"store), {c.get('ft_cache_misses', 0):g} misses "
            f"({c.get('ft_cache_miss_bytes', 0) / 2**20:.1f} MiB from the central server), "
            f"{c.get('ft_cache_stale', 0):g} served during central outages"
            + (f", holds {described['held_files']} files (as published for placement)"
               if described.get('held_files') is not None else ''))
