"""Feeding Ray from the driver-side queue: a bounded window, exclusive nodes.

A :class:`Dispatcher` (one per :class:`~sio_ray.session.Session`) takes jobs
from the :class:`~sio_ray.queue.PriorityQueue` in a thread of its own and
keeps at most ``window`` of them in Ray, so a high-priority job waits behind
at most one window of others.  What goes to Ray next, and where, is decided by
:func:`sio_ray.scheduling.plan` (a pure function) on a snapshot of the
cluster; exclusive jobs (``cpu-exec``) drain a node there.  Ray is only ever
called outside the queue's lock, so :meth:`Dispatcher.submit` never waits for
Ray.

No silent stall: when the nodes able to run some jobs are gone (the last
node with working boxes died, say), Ray would keep such tasks pending for
good.  The dispatcher takes back from Ray every task whose placement no alive
node can satisfy any more and sets aside every queued job no alive node can
run (the jobs behind it go on).  While any are set aside it warns every
:data:`STALL_WARN_EVERY` seconds, in the driver's log and in what it
publishes for ``sio-ray status``, naming what is missing; a node able to run
them (a new one, or one back) takes them again; after
``$SIO_RAY_STALL_TIMEOUT`` seconds (default 300,
:data:`sio.workers.settings.RAY_STALL_TIMEOUT`) they come back as FAILURE
naming what is missing and the bound.

Inputs are read where they are cached: the dispatcher reads, about once a
second, what each node's cache holds (the summaries the node caches publish
in the cluster's registry) and a job whose inputs a node holds prefers that
node while it has room (:func:`sio_ray.locality.preferred_node`);
``SIO_RAY_LOCALITY=0`` (:data:`sio.workers.settings.RAY_LOCALITY`) turns
this off.

Timed jobs avoid nodes much slower or noisier than the cluster's median
(:mod:`sio_ray.calibration`): the dispatcher reads the nodes' latest
calibrations in the registry every :data:`CALIBRATIONS_AGE` seconds; they
override the ``sio-speed`` and ``sio-noise`` labels the nodes started with.

Every second or so the dispatcher publishes its queue (jobs by contest
priority, jobs in flight; :mod:`sio_ray.registry`), where ``sio-ray status``
run from any shell reads it.

Every job in flight is held to its wall-clock bound (:mod:`sio_ray.bounds`):
past it, the job is interrupted, then its worker killed if it does not stop,
and it comes back as FAILURE naming the bound.  A cancelled job is stopped the
same way.  Each job's future resolves exactly once; :attr:`JobFuture.ran`
says whether the result is one of a job that ran (only those may be kept,
e.g. in a :class:`~sio_ray.journal.Journal`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cached_property

import ray

from sio.workers import settings
from sio.workers.filetracker import holdings
from sio_ray import bounds, metrics, registry, remeasure, scheduling
from sio_ray.locality import Locality, preference_of
from sio_ray.nodes import NODE_ID_LABEL, TAG_KEY, Node, fitted, might_run, missing, placeable
from sio_ray.prepared import PreparedJob
from sio_ray.queue import PriorityQueue
from sio_ray.results import failure
from sio_ray.task import run_job

logger = logging.getLogger(__name__)

CANCELLED = 'the job was cancelled'
SHUT_DOWN = 'Ray was shut down before the job finished'
#: Seconds a snapshot of the cluster's nodes is used before it is taken again.
SNAPSHOT_AGE = 1.0
#: Seconds between warnings about jobs no alive node can run.
STALL_WARN_EVERY = 5.0
#: Seconds the autoscaler's node types are used before they are read again.
GROWABLE_AGE = 10.0
#: Seconds between reports of the queue's demand to the autoscaler.
DEMAND_EVERY = 1.0
#: The most bundles one demand report holds.
MAX_DEMAND = 1000
#: Seconds :meth:`Dispatcher.start_now` waits for probes of untagged nodes.
PROBE_WAIT = 120.0
#: Seconds the nodes' calibrations in the registry are used before they are read again.
CALIBRATIONS_AGE = 10.0
#: Seconds what the nodes' caches hold is used before it is read again.
HOLDINGS_AGE = 1.0
#: Summaries of nodes' caches older than this are not used (their node cache is gone).
HOLDINGS_TTL = 60.0
#: Seconds after which the summaries are stale: the dispatcher waits for fresh ones
#: (at most :data:`HOLDINGS_WAIT` s) before it places jobs by them.
HOLDINGS_STALE = 3.0
HOLDINGS_WAIT = 2.0


class JobFuture(Future):
    """The future of one job; :attr:`ran` is true once it holds the result of a
    job that ran (not one the driver made for a job that was cancelled, shut
    down or lost)."""

    ran = False


@dataclass(eq=False)
class Job:
    """A prepared job and what the dispatcher knows of its run."""

    prepared: PreparedJob
    future: JobFuture = field(default_factory=JobFuture)
    node: str | None = None  # the drained node of an exclusive job
    queued_at: float = field(default_factory=time.monotonic)
    attempt: int = -1  # the latest attempt seen started
    started_at: float | None = None  # when it was seen started (this driver's clock)
    stopping: str | None = None  # why it is being stopped: its FAILURE message
    stop_sent: float = 0.0
    forced: bool = False
    placed: dict | None = None  # the options Ray got (its selector is fixed there)
    requeue: bool = False  # cancelled in Ray to be queued again (its nodes are gone)
    stalled_since: float | None = None  # since when no alive node can run it
    stall_reason: str = ''
    growable: bool = False  # (stalled:) a node the autoscaler can add could run it
    runs: list[dict] = field(default_factory=list)  # results of a borderline job's runs

    @property
    def environ(self) -> dict:
        return self.prepared.environ

    @property
    def options(self) -> dict:
        return self.prepared.options

    @property
    def exclusive(self) -> bool:
        return self.prepared.exclusive

    @property
    def job_type(self) -> str:
        return self.prepared.job_type

    @property
    def bound(self):
        return self.prepared.bound

    @property
    def timing(self) -> str | None:
        return self.prepared.requirements.timing

    @cached_property
    def inputs(self) -> list[tuple[str, str, float]]:
        """The files it reads: (server URL, name, weight)."""
        return holdings.job_inputs(self.environ, settings.FILETRACKER_URL.get())

    def resolve(self, result: dict, ran: bool) -> None:
        """Deliver the job's one result (later ones are ignored)."""
        if not self.future.done():
            self.future.ran = ran
            self.future.set_result(result)


def window_size(nodes: list[Node] | None = None) -> int:
    """``$SIO_RAY_WINDOW``, or twice the CPUs of the cluster's alive nodes (at
    least 8)."""
    if nodes is None:
        cpus = int(ray.cluster_resources().get('CPU', 1))
    else:
        cpus = int(sum(n.resources.get('CPU', 0) for n in nodes if n.alive))
    return settings.RAY_WINDOW.get() or max(8, 2 * cpus)


class Dispatcher:
    """Owns the queue and the in-flight window of one session."""

    def __init__(self, window: int | None = None):
        self.window = window or window_size()
        self.driver = ray.get_runtime_context().get_job_id()
        self._queue = PriorityQueue()
        self._lock = threading.Condition()
        self._arrived: list[Job] = []  # queued since the last plan: checked once
        self._handing: list[Job] = []  # taken from the queue, not yet in Ray
        self._inflight: dict[ray.ObjectRef, Job] = {}
        # Tasks of submit() (outside the queue): only held to their bounds.
        self._watched: dict[ray.ObjectRef, Job] = {}
        self._reserved: set[str] = set()  # nodes drained for exclusive jobs
        self._nodes: list[Node] = []
        self._nodes_at = -SNAPSHOT_AGE
        self._probed: dict[str, dict[str, str]] | None = None  # tags of untagged nodes
        self._probing: dict[ray.ObjectRef, str] = {}  # probes in flight: node id
        self._probe_wanted: set[str] = set()  # nodes start_now() waits to know
        self._stalled: list[Job] = []  # queued jobs no alive node can run now
        self._growable: list[Node] = []  # nodes the autoscaler can add
        self._growable_max: dict[str, int] = {}  # how many of each
        self._growable_at = -GROWABLE_AGE
        self._calibrated: dict[str, dict[str, str]] = {}  # node id -> calibration labels
        self._calibrated_at = -CALIBRATIONS_AGE
        self._demand: list | None = None  # what was last asked of the autoscaler
        self._demand_at = 0.0
        self._fixed_window = window is not None or settings.RAY_WINDOW.get() is not None
        self._clock = bounds.start_clock()  # which of this driver's tasks started
        self._ended: list[str] = []  # task ids the clock may forget
        self._stall_warned = 0.0
        self._watched_nodes_at = -SNAPSHOT_AGE
        self._policed_at = 0.0
        self._stopped = False
        self._published_at = 0.0
        self._published_empty = True
        self._metered: set[float] = set()  # contest priorities whose queue length is set
        self._held: dict[str, dict] = {}  # what the nodes' caches hold (summaries)
        self._held_ref: ray.ObjectRef | None = None
        self._held_at = -HOLDINGS_AGE
        self._held_read = -HOLDINGS_STALE  # when they were last read
        self._held_waited = False  # whether the question in flight was waited for
        self._thread = threading.Thread(target=self._loop, name='sio-ray-dispatcher',
                                        daemon=True)
        self._thread.start()

    # -- for the driver's threads ---------------------------------------------

    def submit(self, prepared: PreparedJob) -> JobFuture:
        """Queue one job; its future resolves to its result environ."""
        return self.submit_all([prepared])[0]

    def submit_all(self, prepared: list[PreparedJob]) -> list[JobFuture]:
        jobs = [Job(p) for p in prepared]
        with self._lock:
            if self._stopped:
                for job in jobs:
                    job.resolve(failure(job.environ, SHUT_DOWN), ran=False)
            else:
                for job in jobs:
                    self._queue.push(job.environ, job)
                self._arrived += jobs
                self._lock.notify_all()
        return [job.future for job in jobs]

    def start_now(self, prepared: PreparedJob, overrides: dict) -> ray.ObjectRef:
        """Hand one job to Ray at once, outside the queue, and hold it to its
        bound (past it, the task is cancelled: its reference raises
        ``TaskCancelledError``).  A job no node can run resolves to FAILURE."""
        nodes = self._snapshot(fresh=True)
        options = {**prepared.options, **overrides}
        reason = missing(fitted(options, nodes), nodes)
        if reason is not None:
            return ray.put(failure(prepared.environ, _refused(prepared, reason)))
        placed = scheduling.place(options, prepared.exclusive, nodes,
                                  prepared.requirements.timing)
        deadline = time.monotonic() + PROBE_WAIT
        while placed is None and time.monotonic() < deadline:  # untagged nodes: probe them
            with self._lock:
                self._probe_wanted.update(n.node_id for n in nodes if n.alive and not n.known)
                self._lock.notify_all()
                self._lock.wait(0.1)
            nodes = self._snapshot(fresh=True)
            placed = scheduling.place(options, prepared.exclusive, nodes,
                                      prepared.requirements.timing)
        if placed is None:
            return ray.put(failure(prepared.environ, _refused(
                prepared, missing(options, [n for n in nodes if n.known])
                or 'no node known to be able to run it')))
        ref = run_job.options(**placed).remote(prepared.environ)
        with self._lock:
            self._watched[ref] = Job(prepared)
            self._lock.notify_all()
        return ref

    def cancel(self, futures) -> None:
        """Cancel jobs: queued ones never start; running ones are interrupted
        (their sandboxes killed; their worker too if they do not stop) and
        come back as FAILURE."""
        targets = set(futures)
        with self._lock:
            for job in self._queue.remove_if(lambda job: job.future in targets):
                job.resolve(failure(job.environ, CANCELLED), ran=False)
            for job in [job for job in self._stalled if job.future in targets]:
                self._stalled.remove(job)
                job.resolve(failure(job.environ, CANCELLED), ran=False)
            for job in self._handing:  # cancelled as soon as Ray has them
                if job.future in targets and job.stopping is None:
                    job.stopping, job.stop_sent = CANCELLED, time.monotonic()
            stopping = [(ref, job) for ref, job in self._inflight.items()
                        if job.future in targets and job.stopping is None]
            for _, job in stopping:
                job.stopping, job.stop_sent = CANCELLED, time.monotonic()
        for ref, _ in stopping:
            ray.cancel(ref, force=False)

    def nodes(self) -> list[Node]:
        """The cluster's nodes as the scheduler sees them (probed tags included)."""
        return self._snapshot(fresh=True)

    @property
    def stopped(self) -> bool:
        return self._stopped or not self._thread.is_alive()

    def stop(self) -> None:
        """End the dispatcher thread before Ray goes away; jobs still queued or
        in flight come back as FAILURE."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(10)
        self._abandon(SHUT_DOWN)

    # -- the loop -----------------------------------------------------------

    def _busy(self) -> bool:
        return bool(self._queue or self._inflight or self._watched or self._arrived
                    or self._probing or self._probe_wanted or self._stalled
                    or self._demand is not None)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._busy() and not self._stopped:
                    self._lock.wait(registry.PUBLISHED_TTL / 2)
                if self._stopped:
                    break
            if not ray.is_initialized():
                # ray.shutdown() without sio_ray.shutdown(): calling Ray now would
                # end the process, so give up on the jobs instead.
                self._stopped = True
                break
            try:
                self._watch_cluster()
                self._dispatch()
                self._report_demand()
                self._publish()
                self._police()
                self._collect()
            except BaseException:  # Ray went away under us (ray.shutdown raises SystemExit)
                if self._stopped or not ray.is_initialized():
                    break
                logger.exception('the dispatcher failed; trying again')
                time.sleep(0.5)
        self._abandon(SHUT_DOWN)

    def _snapshot(self, fresh: bool = False) -> list[Node]:
        """The cluster's nodes (taken again when older than :data:`SNAPSHOT_AGE`),
        with the tags probed on untagged ones."""
        now = time.monotonic()
        if fresh or now - self._nodes_at > SNAPSHOT_AGE:
            entries = ray.nodes()
            if self._probed is None or any(
                    e.get('Alive') and TAG_KEY not in (e.get('Labels') or {})
                    and e['NodeID'] not in self._probed for e in entries):
                self._load_probed()
            calibrated = self._calibrations()
            self._nodes = [Node.from_ray(e, probed=self._probed.get(e['NodeID']),
                                         calibrated=calibrated.get(e['NodeID']))
                           for e in entries]
            self._nodes_at = now
            if not self._fixed_window:  # the window follows the cluster as nodes come and go
                self.window = window_size(self._nodes)
        return self._nodes

    def growable(self) -> list[Node]:
        """The nodes the cluster's autoscaler can add (its published node types)."""
        now = time.monotonic()
        if now - self._growable_at > GROWABLE_AGE:
            try:
                types = registry.node_types()
            except Exception:
                logger.debug('the node types could not be read', exc_info=True)
                types = {}
            self._growable = [Node.of_type(name, spec) for name, spec in types.items()]
            self._growable_max = {f'node-type:{name}': int(spec.get('max_workers', 0))
                                  for name, spec in types.items()}
            self._growable_at = now
        return self._growable

    def _calibrations(self) -> dict[str, dict[str, str]]:
        """The nodes' latest calibrations in the registry (``sio-ray calibrate``)
        as labels, read again after :data:`CALIBRATIONS_AGE` seconds."""
        from sio_ray.calibration import as_labels
        now = time.monotonic()
        if now - self._calibrated_at > CALIBRATIONS_AGE:
            self._calibrated_at = now
            try:
                self._calibrated = as_labels(registry.calibrations(timeout=10))
            except Exception:
                logger.debug('the nodes\' calibrations could not be read', exc_info=True)
        return self._calibrated

    def _load_probed(self) -> None:
        """What the cluster's registry knows of untagged nodes (probed by any driver)."""
        try:
            known = ray.get(registry.registry().node_tags.remote(), timeout=30)
        except Exception:
            logger.warning('the cluster registry did not answer', exc_info=True)
            known = {}
        self._probed = {**(self._probed or {}), **known}

    def _probe(self, node_ids: list[str]) -> None:
        """Find, once, what untagged nodes can do: a probe pinned to each."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        busy = set(self._probing.values())
        for node_id in node_ids:
            if node_id in busy or node_id in (self._probed or {}):
                continue
            logger.info('Node %s carries no sio tags: probing what it can do', node_id)
            ref = registry.probe_node.options(
                name=f'sio-probe:{node_id[:12]}',
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote()
            self._probing[ref] = node_id

    def _probes_done(self) -> None:
        if not self._probing:
            return
        done, _ = ray.wait(list(self._probing), num_returns=len(self._probing), timeout=0)
        for ref in done:
            node_id = self._probing.pop(ref)
            try:
                found = ray.get(ref)
            except ray.exceptions.RayError as exc:
                if not any(n.node_id == node_id and n.alive for n in self._snapshot(True)):
                    continue  # the node is gone
                logger.warning('The probe of node %s failed; taking it as unable to run '
                               'isolated jobs: %s', node_id, exc)
                found = {TAG_KEY: 'false'}
            logger.info('Node %s can do: %s', node_id, found)
            self._probed[node_id] = found
            try:
                registry.registry().record_tags.remote(node_id, found)
            except Exception:
                logger.debug('probe not recorded in the registry', exc_info=True)
            self._nodes_at = -SNAPSHOT_AGE  # plan with what was found

    def _dispatch(self) -> None:
        """Plan under the lock; hand the planned jobs to Ray outside it."""
        self._probes_done()
        with self._lock:
            wanted, self._probe_wanted = self._probe_wanted, set()
        if wanted:
            self._probe(sorted(wanted))
        with self._lock:
            pending = bool(self._arrived) or \
                (bool(self._queue) and len(self._inflight) < self.window)
        if not pending:
            return
        nodes = self._snapshot(fresh=bool(self._arrived))
        growable = self.growable()
        locality = self._locality()
        with self._lock:
            arrived, self._arrived = self._arrived, []
            plan = scheduling.plan(self._queue, nodes, self._reserved,
                                   self.window - len(self._inflight), arrived, growable,
                                   locality)
            self._handing = [d.job for d in plan.dispatch]
            now = time.monotonic()
            for stall in plan.stalled:
                stall.job.stall_reason, stall.job.growable = stall.reason, stall.growable
                stall.job.stalled_since = stall.job.stalled_since or now
                self._stalled.append(stall.job)
        if plan.probe:
            self._probe(plan.probe)
        for refusal in plan.refused:
            refusal.job.resolve(failure(refusal.job.environ,
                                        _refused(refusal.job.prepared, refusal.reason)), ran=False)
        sent = []
        for decision in plan.dispatch:
            job = decision.job
            job.node, job.placed, job.stalled_since = decision.node, decision.options, None
            try:
                ref = run_job.options(**decision.options).remote(self._environ_for(job, nodes))
            except Exception as exc:  # options Ray refuses: the job's result, not a hang
                logger.exception('Ray refused job %s', decision.options.get('name'))
                self._release(job)
                job.resolve(failure(job.environ, f'Ray refused the task: {exc}'), ran=False)
                continue
            sent.append((ref, job))
            metrics.job_dispatched(job.environ, time.monotonic() - job.queued_at)
        cancel = []
        with self._lock:
            for ref, job in sent:
                self._inflight[ref] = job
                if job.stopping is not None:
                    cancel.append(ref)
            self._handing = []
        for ref in cancel:
            ray.cancel(ref, force=False)

    def _release(self, job: Job) -> None:
        if job.node:
            with self._lock:
                self._reserved.discard(job.node)

    def _locality(self) -> Locality | None:
        """What the planner needs to place jobs where their inputs are cached
        (None when ``SIO_RAY_LOCALITY=0``): the nodes' summaries, asked of the
        registry every :data:`HOLDINGS_AGE` s while jobs are dispatched and
        not waited for; after a pause (none read for :data:`HOLDINGS_STALE`
        s) the answer is waited for, up to :data:`HOLDINGS_WAIT` s."""
        if not settings.RAY_LOCALITY.get():
            return None
        now = time.monotonic()
        if self._held_ref is not None and now - self._held_at > HOLDINGS_TTL:
            self._held_ref = None  # never answered: ask again
        if self._held_ref is None and now - self._held_at > HOLDINGS_AGE:
            self._held_at = now
            try:
                self._held_ref, self._held_waited = registry.registry().holdings.remote(), False
            except Exception:
                logger.debug('the registry could not be asked for holdings', exc_info=True)
        if self._held_ref is not None:
            # Waited for once per question: a registry that does not answer
            # must not slow the dispatcher down.
            wait = now - self._held_read > HOLDINGS_STALE and not self._held_waited
            self._held_waited = True
            ready, _ = ray.wait([self._held_ref], timeout=HOLDINGS_WAIT if wait else 0)
            if ready:
                try:
                    self._held = self._read_holdings(ray.get(ready[0]))
                    self._held_read = now
                except Exception:
                    logger.debug('the nodes\' holdings could not be read', exc_info=True)
                self._held_ref = None
        load: dict[str, float] = {}  # of the jobs in Ray sent where their inputs are
        with self._lock:
            for job in self._inflight.values():
                node = preference_of(job.placed)
                if node is not None:
                    load[node] = load.get(node, 0) + job.placed.get('num_cpus', 1)
        return Locality(self._held, load)

    @staticmethod
    def _read_holdings(published: dict) -> dict[str, dict]:
        fresh = time.time() - HOLDINGS_TTL
        return {node: {url: holdings.Holdings.from_dict(summary)
                       for url, summary in by_url.items() if summary.get('made', 0) > fresh}
                for node, by_url in published.items()}

    def _watch_cluster(self) -> None:
        """As the cluster changes (at most once per :data:`SNAPSHOT_AGE`): take
        back jobs Ray holds for nodes that are gone, queue again the stalled
        jobs some node can run now, warn about the rest and fail those
        stalled past :data:`settings.RAY_STALL_TIMEOUT`."""
        if time.monotonic() - self._watched_nodes_at < SNAPSHOT_AGE:
            return
        with self._lock:
            if not (self._inflight or self._stalled):
                return
        nodes = self._snapshot()
        self._watched_nodes_at = time.monotonic()
        stuck = []
        with self._lock:
            for ref, job in self._inflight.items():
                if job.placed is not None and not job.requeue and job.stopping is None \
                        and not placeable(job.placed, nodes):
                    job.requeue = True  # it waits in Ray for nodes that are gone
                    stuck.append((ref, job))
        for ref, job in stuck:
            logger.warning('Job %s waits in Ray for nodes that are gone: taking it back',
                           job.options.get('name'))
            ray.cancel(ref, force=False)
        self._check_stalled(nodes)

    def _check_stalled(self, nodes: list[Node]) -> None:
        bound = settings.RAY_STALL_TIMEOUT.get()
        now = time.monotonic()
        growable = self.growable()
        expired = []
        with self._lock:
            if not self._stalled:
                return
            still = []
            for job in self._stalled:
                options = fitted(job.options, nodes)
                if any(might_run(n, options) for n in nodes):
                    self._queue.push(job.environ, job)  # a node for it is there (back, or added)
                    job.stalled_since = None
                    continue
                job.growable = any(might_run(n, fitted(job.options, growable))
                                   for n in growable)
                if not job.growable and now - job.stalled_since > bound:
                    expired.append(job)
                else:
                    still.append(job)
            self._stalled = still
            self._lock.notify_all()
        for job in expired:
            job.resolve(failure(job.environ, f'{job.stall_reason}; no alive node could run the '
                                             f'job for {bound:g} s ($SIO_RAY_STALL_TIMEOUT)'),
                        ran=False)
        if still and now - self._stall_warned >= STALL_WARN_EVERY:
            self._stall_warned = now
            stuck = [job for job in still if not job.growable]
            if stuck:
                oldest = min(job.stalled_since for job in stuck)
                logger.warning('%d queued job(s) cannot be placed, for %.0f s: %s.  They come '
                               'back as FAILURE after %g s ($SIO_RAY_STALL_TIMEOUT)', len(stuck),
                               now - oldest, stuck[0].stall_reason, bound)
            waiting = len(still) - len(stuck)
            if waiting:
                logger.info('%d queued job(s) wait for the autoscaler to add a node able to '
                            'run them', waiting)

    def running(self) -> dict[str, dict]:
        """This driver's jobs handed to Ray: their environs by Ray task id (hex)."""
        with self._lock:
            jobs = [*self._inflight.items(), *self._watched.items()]
        return {ref.task_id().hex(): job.environ for ref, job in jobs}

    def stalled(self) -> dict | None:
        """The jobs no alive node can run now: how many, for how long, why
        (those the autoscaler can serve are counted apart: they do not fail)."""
        with self._lock:
            stuck = [job for job in self._stalled if not job.growable]
            waiting = len(self._stalled) - len(stuck)
            if not stuck:
                return {'jobs': 0, 'for_autoscaler': waiting} if waiting else None
            oldest = min(stuck, key=lambda job: job.stalled_since)
            return {'jobs': len(stuck), 'seconds': time.monotonic() - oldest.stalled_since,
                    'reason': oldest.stall_reason, 'for_autoscaler': waiting,
                    'fails_after': settings.RAY_STALL_TIMEOUT.get()}

    def _report_demand(self) -> None:
        """Tell the autoscaler what the queue needs (``request_resources``, as
        Ray Data reports its demand): one bundle per job waiting or in Ray — its
        CPUs and the labels it needs, never memory, which node types need not
        declare — at most what the live nodes and the node types could hold
        (and :data:`MAX_DEMAND` bundles); cleared once the queue has drained,
        so that idle nodes can go."""
        now = time.monotonic()
        if now - self._demand_at < DEMAND_EVERY:
            return
        self._demand_at = now
        growable = self.growable()
        if not growable and not self._demand:
            return  # nothing can grow, and nothing to clear
        with self._lock:
            jobs = [*self._inflight.values(), *self._queue.items(), *self._stalled]
        nodes = self._snapshot()
        capacity = sum(n.resources.get('CPU', 0) for n in nodes if n.alive and not n.virtual)
        for node_type in growable:
            capacity += self._growable_max.get(node_type.node_id, 0) * \
                node_type.resources.get('CPU', 0)
        bundles, selectors, cpus = [], [], 0.0
        for job in jobs:
            options = fitted(job.options, [*nodes, *growable])
            need = float(options.get('num_cpus', 1))
            if len(bundles) >= MAX_DEMAND or cpus + need > capacity:
                break
            bundles.append({'CPU': need})
            selectors.append({k: v for k, v in (options.get('label_selector') or {}).items()
                              if k != NODE_ID_LABEL})
            cpus += need
        demand = [bundles, selectors]
        if demand == self._demand or (not bundles and self._demand is None):
            return
        from ray.autoscaler.sdk import request_resources
        try:
            request_resources(bundles=bundles, bundle_label_selectors=selectors)
            self._demand = demand if bundles else None
        except Exception:
            logger.debug('demand not reported', exc_info=True)

    def _collect(self) -> None:
        """Wait a little for a job in Ray to end; deliver what ended."""
        with self._lock:
            refs = list(self._inflight)
            if not refs:
                # Waiting for a node to drain, a probe, a node to come back.
                self._lock.wait(0.05)
                return
        done, _ = ray.wait(refs, num_returns=1, timeout=0.05)
        for ref in done:
            with self._lock:
                job = self._inflight.pop(ref)
            self._release(job)
            self._finish(ref, job)

    def _finish(self, ref: ray.ObjectRef, job: Job) -> None:
        """Deliver the result of a job whose task ended."""
        self._ended.append(ref.task_id().hex())
        try:
            result = ray.get(ref)
        except Exception as exc:
            error = exc
        else:
            self._ran(job, result)
            return
        if job.runs and job.stopping != CANCELLED:  # a repeat lost or stopped: the runs so far
            job.resolve(remeasure.merged(job.runs), ran=True)
            return
        if job.requeue and job.stopping is None:  # taken back from Ray: queue it again
            job.requeue, job.node, job.placed, job.attempt, job.started_at = \
                False, None, None, -1, None
            with self._lock:
                self._queue.push(job.environ, job)
                self._lock.notify_all()
            return
        # The driver's own result of a job that reached Ray names its task.
        environ = {**job.environ, 'ray_task_id': ref.task_id().hex()}
        if job.stopping is not None:
            if job.stopping == CANCELLED:
                job.resolve(failure(environ, CANCELLED), ran=False)
            else:  # stopped at its bound: it ran, and this is how it ended
                how = ('its worker process was killed: the job did not stop within '
                       f'{bounds.FORCE_AFTER:g} s of being interrupted' if job.forced
                       else 'it was interrupted and its boxes killed')
                job.resolve(failure(environ, job.stopping,
                                    f'{job.stopping}\nsio_ray stopped the job: {how}.\n'
                                    f'Ray reported: {type(error).__name__}'), ran=True)
        elif isinstance(error, ray.exceptions.TaskCancelledError):
            job.resolve(failure(environ, CANCELLED), ran=False)
        else:  # a system failure Ray gave up on: still a result
            job.resolve(failure(environ, f'the job was lost: {error}',
                                f'{type(error).__name__}: {error}'), ran=False)

    # -- borderline runs measured again on other nodes (sio_ray.remeasure) ----

    def _environ_for(self, job: Job, nodes: list[Node]) -> dict:
        """What a run of ``job`` is sent with: a repeat's environ, or the
        first run's, offering to place its repeats on other nodes."""
        if job.runs:
            return remeasure.repeat_environ(job.environ, job.runs)
        return remeasure.first_environ(job.environ, job.prepared.requirements.repeats,
                                       job.options, job.timing, nodes)

    def _ran(self, job: Job, result: dict) -> None:
        """A run of ``job`` ended with ``result``: deliver the job's result, or
        send its next repeat."""
        if not job.runs and not remeasure.wants_more([result]):
            job.resolve(remeasure.finished(result), ran=True)
            return
        if result.get('result') == 'SUCCESS':
            job.runs.append(result)
        else:  # a repeat that failed: judged by the runs that did not
            logger.warning('A repeat of job %s failed: %s', job.options.get('name'),
                           result.get('exception'))
        if not (result.get('result') == 'SUCCESS' and job.stopping is None
                and remeasure.wants_more(job.runs) and self._send_repeat(job)):
            job.resolve(remeasure.merged(job.runs), ran=True)  # (also a job being stopped)

    def _send_repeat(self, job: Job) -> bool:
        """Hand the next repeat of ``job`` to Ray, on another node where one
        can take it (an exclusive job that finds every such node drained
        waits in the queue); False when none can."""
        nodes = self._snapshot()
        used = [run.get('ray_node_id') for run in job.runs]
        with self._lock:
            reserved = set(self._reserved)
        placed = remeasure.placement(job.options, job.exclusive, job.timing, nodes, used,
                                     reserved)
        job.node, job.placed, job.attempt, job.started_at = None, None, -1, None
        if placed is None:
            if not remeasure.able_nodes(job.options, job.timing, nodes):
                return False
            with self._lock:  # every node able to run it is drained: wait for one
                self._queue.push(job.environ, job)
                self._lock.notify_all()
            return True
        options, node = placed
        try:
            ref = run_job.options(**options).remote(remeasure.repeat_environ(job.environ,
                                                                             job.runs))
        except Exception:
            logger.exception('Ray refused a repeat of job %s', job.options.get('name'))
            return False
        with self._lock:
            if node is not None:
                self._reserved.add(node)
            job.node, job.placed = node, options
            self._inflight[ref] = job
        return True

    def _police(self) -> None:
        """Note which jobs started (the clock of their bound) and stop those
        past their bound, or past the grace of an interruption."""
        now = time.monotonic()
        if now - self._policed_at < bounds.POLL_INTERVAL:
            return
        self._policed_at = now
        with self._lock:
            jobs = list(self._inflight.items()) + list(self._watched.items())
            watched = list(self._watched)
        if not jobs:
            return
        if watched:
            ended, _ = ray.wait(watched, num_returns=len(watched), timeout=0, fetch_local=False)
            with self._lock:
                for ref in ended:
                    self._watched.pop(ref)
                    self._ended.append(ref.task_id().hex())
        forget, self._ended = self._ended, []
        started = bounds.started_attempts(self._clock, forget)
        soft, force = [], []
        with self._lock:
            self._stop_overdue(jobs, started, now, soft, force)
        for ref in soft:
            ray.cancel(ref, force=False)
        for ref in force:
            ray.cancel(ref, force=True)

    @staticmethod
    def _stop_overdue(jobs, started, now, soft, force) -> None:
        for ref, job in jobs:
            attempt = started.get(ref.task_id().hex(), -1)
            if attempt > job.attempt:  # started (again, after a system failure)
                job.attempt, job.started_at = attempt, now
            if job.stopping is None:
                if job.bound is not None and job.started_at is not None \
                        and now - job.started_at > job.bound.seconds:
                    job.stopping, job.stop_sent = job.bound.message(), now
                    logger.warning('Stopping job %s: %s', job.options.get('name', ''),
                                   job.stopping)
                    soft.append(ref)
            elif not job.forced and now - job.stop_sent > bounds.FORCE_AFTER:
                job.forced = True
                force.append(ref)

    def _abandon(self, why: str) -> None:
        """Give every job still waiting or in flight its FAILURE result."""
        with self._lock:
            jobs = list(self._inflight.values()) + self._queue.remove_if(lambda job: True) + \
                self._stalled
            self._stalled = []
            self._inflight.clear()
            self._watched.clear()
            self._arrived = []
        for job in jobs:
            job.resolve(failure(job.environ, why), ran=False)

    def _publish(self) -> None:
        """Publish this driver's queue (at most once a second, and when it empties)."""
        now = time.time()
        with self._lock:
            empty = not self._queue and not self._inflight and not self._stalled
            if empty and self._published_empty and \
                    now - self._published_at < registry.PUBLISHED_TTL / 2:
                return
            if not empty and not self._published_empty and now - self._published_at < 1.0:
                return
            summary = {'queued': {str(k): v for k, v in self._queue.by_priority().items()},
                       'in_flight': len(self._inflight), 'window': self.window,
                       'reserved': sorted(self._reserved),
                       'pid': os.getpid(), 'host': socket.gethostname(), 'updated': now}
            self._published_at, self._published_empty = now, empty
        summary['stalled'] = self.stalled()
        lengths = {float(p): n for p, n in summary['queued'].items()}
        for gone in self._metered - lengths.keys():
            lengths[gone] = 0  # emptied since: say so
        self._metered = {p for p, n in lengths.items() if n}
        metrics.queue_lengths(self.driver, lengths)
        try:
            registry.publish_queue(self.driver, summary)
        except Exception:  # only for people looking; jobs never wait on it
            logger.debug('queue not published', exc_info=True)


def _refused(prepared: PreparedJob, reason: str) -> str:
    return f'no node can run this {prepared.job_type!r} job: {reason}'
