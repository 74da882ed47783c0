"""Feeding Ray from the driver-side queue: a bounded window, exclusive nodes.

One dispatcher thread per driver process takes jobs from the
:class:`~sio_ray.queue.PriorityQueue` and keeps at most ``window`` of them in
Ray, so a high-priority job waits behind at most one window of others.

Every second or so the dispatcher publishes its queue (jobs by contest
priority, jobs in flight) in Ray's key-value store, where ``sio-ray status``
run from any shell reads it (:func:`published_queues`).

Exclusive jobs (``cpu-exec``) would starve behind a stream of small jobs (Ray
keeps no order between them).  When one comes up, the dispatcher *drains* a
node: it pins the exclusive job there (with the whole ``node_slot``) and keeps
every other job off that node (``ray.io/node-id: !in(...)``) until the
exclusive job has finished.

Every job in flight is held to its wall-clock bound (:mod:`sio_ray.bounds`):
past it, the job is interrupted, then its worker killed if it does not stop,
and it comes back as FAILURE naming the bound.  A cancelled job is stopped the
same way.  Each job's future resolves exactly once; :attr:`JobFuture.ran`
says whether the result is one of a job that ran (only those may be kept,
e.g. in a :class:`~sio_ray.journal.Journal`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import ray

from sio.workers.wallbound import WallBound
from sio.workers import settings
from sio_ray import bounds, metrics, tags
from sio_ray.placement import has_labels, missing_capability
from sio_ray.queue import PriorityQueue
from sio_ray.results import failure
from sio_ray.task import run_job

logger = logging.getLogger(__name__)

NODE_ID_LABEL = 'ray.io/node-id'
CANCELLED = 'the job was cancelled'
SHUT_DOWN = 'Ray was shut down before the job finished'
_KV_NAMESPACE = 'sio'
_KV_PREFIX = 'sio-queue:'
#: Published queues older than this are from drivers that are gone.
PUBLISHED_TTL = 10.0


class JobFuture(Future):
    """The future of one job; :attr:`ran` is true once it holds the result of a
    job that ran (not one the driver made for a job that was cancelled, shut
    down or lost)."""

    ran = False


@dataclass
class Job:
    environ: dict
    options: dict
    exclusive: bool
    bound: WallBound | None = None
    future: JobFuture = field(default_factory=JobFuture)
    node: str | None = None  # the drained node of an exclusive job
    queued_at: float = field(default_factory=time.monotonic)
    attempt: int = -1  # the latest attempt seen started
    started_at: float | None = None  # when it was seen started (this driver's clock)
    stopping: str | None = None  # why it is being stopped: its FAILURE message
    stop_sent: float = 0.0
    forced: bool = False

    def resolve(self, result: dict, ran: bool) -> None:
        """Deliver the job's one result (later ones are ignored)."""
        if not self.future.done():
            self.future.ran = ran
            self.future.set_result(result)


def _window_size() -> int:
    cpus = int(ray.cluster_resources().get('CPU', 1))
    return settings.RAY_WINDOW.get() or max(8, 2 * cpus)


class Dispatcher:
    """Owns the queue and the in-flight window of this driver."""

    def __init__(self, window: int | None = None):
        self.window = window or _window_size()
        self._queue = PriorityQueue()
        self._lock = threading.Condition()
        self._inflight: dict[ray.ObjectRef, Job] = {}
        # Tasks of submit() (outside the queue): only held to their bounds.
        self._watched: dict[ray.ObjectRef, Job] = {}
        self._policed_at = 0.0
        self._draining: set[str] = set()
        self._stopped = False
        self._published_at = 0.0
        self._published_empty = True
        self._thread = threading.Thread(target=self._loop, name='sio-ray-dispatcher',
                                        daemon=True)
        self._thread.start()

    def submit(self, environ: dict, options: dict, exclusive: bool,
               bound: WallBound | None = None) -> JobFuture:
        job = Job(environ, options, exclusive, bound)
        with self._lock:
            self._queue.push(environ, job)
            self._lock.notify_all()
        return job.future

    def watch(self, ref: ray.ObjectRef, environ: dict, bound: WallBound) -> None:
        """Hold a task started outside the queue to its bound (past it, the task
        is cancelled: its reference raises ``TaskCancelledError``)."""
        with self._lock:
            self._watched[ref] = Job(environ, {}, False, bound)
            self._lock.notify_all()

    def cancel(self, futures) -> None:
        """Cancel jobs: queued ones never start; running ones are interrupted
        (their sandboxes killed; their worker too if they do not stop) and
        come back as FAILURE."""
        targets = set(futures)
        with self._lock:
            for job in self._queue.remove_if(lambda job: job.future in targets):
                job.resolve(failure(job.environ, CANCELLED), ran=False)
            stopping = [(ref, job) for ref, job in self._inflight.items()
                        if job.future in targets and job.stopping is None]
            for _, job in stopping:
                job.stopping, job.stop_sent = CANCELLED, time.monotonic()
        for ref, _ in stopping:
            ray.cancel(ref, force=False)

    # -- the loop -----------------------------------------------------------

    def stop(self) -> None:
        """End the dispatcher thread before Ray goes away; jobs still queued or
        in flight come back as FAILURE."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(10)
        self._abandon(SHUT_DOWN)

    def _loop(self) -> None:
        while not self._stopped:
            with self._lock:
                while not (self._queue or self._inflight or self._watched or self._stopped):
                    self._publish()
                    self._lock.wait(PUBLISHED_TTL / 2)
                if self._stopped:
                    break
                if not ray.is_initialized():
                    # ray.shutdown() without sio_ray.shutdown(): calling Ray now would
                    # end the process, so give up on the jobs instead.
                    self._stopped = True
                    break
                self._fill()
                self._publish()
                refs = list(self._inflight)
            try:
                self._police()
            except Exception:  # Ray going away; the loop notices
                logger.debug('checking bounds failed', exc_info=True)
            if not refs:
                with self._lock:
                    self._lock.wait(0.05)  # an exclusive job waits for a node to drain
                continue
            try:
                done, _ = ray.wait(refs, num_returns=1, timeout=0.05)
            except BaseException:  # Ray went away under us (ray.shutdown raises SystemExit)
                if self._stopped or not ray.is_initialized():
                    break
                logger.exception('ray.wait failed; trying again')
                time.sleep(0.5)
                continue
            for ref in done:
                with self._lock:
                    job = self._inflight.pop(ref)
                    if job.node:
                        self._draining.discard(job.node)
                self._finish(ref, job)
        self._abandon(SHUT_DOWN)

    def _finish(self, ref: ray.ObjectRef, job: Job) -> None:
        """Deliver the result of a job whose task ended."""
        try:
            job.resolve(ray.get(ref), ran=True)
            return
        except Exception as exc:
            error = exc
        if job.stopping is not None:
            bounds.forget(ref.task_id().hex())
            if job.stopping == CANCELLED:
                job.resolve(failure(job.environ, CANCELLED), ran=False)
            else:  # stopped at its bound: it ran, and this is how it ended
                how = ('its worker process was killed: the job did not stop within '
                       f'{bounds.FORCE_AFTER:g} s of being interrupted' if job.forced
                       else 'it was interrupted and its boxes killed')
                job.resolve(failure(job.environ, job.stopping,
                                    f'{job.stopping}\nsio_ray stopped the job: {how}.\n'
                                    f'Ray reported: {type(error).__name__}'), ran=True)
        elif isinstance(error, ray.exceptions.TaskCancelledError):
            job.resolve(failure(job.environ, CANCELLED), ran=False)
        else:  # a system failure Ray gave up on: still a result
            job.resolve(failure(job.environ, f'the job was lost: {error}',
                                f'{type(error).__name__}: {error}'), ran=False)

    def _police(self) -> None:
        """Note which jobs started (the clock of their bound) and stop those
        past their bound, or past the grace of an interruption."""
        now = time.monotonic()
        if now - self._policed_at < bounds.POLL_INTERVAL:
            return
        self._policed_at = now
        with self._lock:
            jobs = list(self._inflight.items()) + list(self._watched.items())
        if not jobs:
            return
        if self._watched:
            watched = list(self._watched)
            ended, _ = ray.wait(watched, num_returns=len(watched), timeout=0, fetch_local=False)
            with self._lock:
                for ref in ended:
                    if self._watched.pop(ref).stopping is not None:
                        bounds.forget(ref.task_id().hex())
        started = bounds.started_attempts()
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
            jobs = list(self._inflight.values()) + self._queue.remove_if(lambda job: True)
            self._inflight.clear()
            self._watched.clear()
        for job in jobs:
            job.resolve(failure(job.environ, why), ran=False)

    def _fill(self) -> None:
        nodes = None
        while self._queue and len(self._inflight) < self.window:
            job = self._queue.peek()
            if job.exclusive and not self._drain_for(job):
                return  # every capable node is drained already: wait, keep the order
            if not job.exclusive and self._draining:
                # A task's selector is fixed when Ray gets it: one kept off the
                # drained nodes must have another node that can run it, or it
                # would wait in Ray for good.  Otherwise it waits here.
                nodes = nodes if nodes is not None else ray.nodes()
                others = [n for n in nodes if n.get('NodeID') not in self._draining]
                if missing_capability(job.options, others) is not None:
                    return
            self._queue.pop()
            options = dict(job.options)
            selector = dict(options.get('label_selector') or {})
            if job.exclusive:
                selector[NODE_ID_LABEL] = job.node
            elif self._draining:
                selector[NODE_ID_LABEL] = f"!in({','.join(sorted(self._draining))})"
            if selector:
                options['label_selector'] = selector
            self._inflight[run_job.options(**options).remote(job.environ)] = job
            metrics.job_dispatched(job.environ, time.monotonic() - job.queued_at, len(self._queue))

    def _publish(self) -> None:
        """Put this driver's queue in Ray's key-value store (at most once a
        second, and when it empties); the caller holds the lock."""
        empty = not self._queue and not self._inflight
        now = time.time()
        if not ray.is_initialized():
            return
        if empty and self._published_empty and now - self._published_at < PUBLISHED_TTL / 2:
            return
        if not empty and not self._published_empty and now - self._published_at < 1.0:
            return
        summary = {'queued': {str(k): v for k, v in self._queue.by_priority().items()},
                   'in_flight': len(self._inflight), 'window': self.window,
                   'pid': os.getpid(), 'host': socket.gethostname(), 'updated': now}
        try:
            from ray.experimental.internal_kv import _internal_kv_put
            _internal_kv_put(_KV_PREFIX + ray.get_runtime_context().get_job_id(),
                             json.dumps(summary), namespace=_KV_NAMESPACE)
        except Exception:  # only for people looking; jobs never wait on it
            pass
        self._published_at, self._published_empty = now, empty

    def _drain_for(self, job: Job) -> bool:
        """Choose a node for an exclusive job and keep others off it."""
        wanted = (job.options.get('label_selector') or {})
        for node in ray.nodes():
            if not node.get('Alive') or node['NodeID'] in self._draining:
                continue
            if (node.get('Resources') or {}).get(tags.NODE_SLOT, 0) < 1:
                continue
            if has_labels(node, wanted):
                job.node = node['NodeID']
                self._draining.add(job.node)
                return True
        return False


_dispatcher: Dispatcher | None = None
_dispatcher_lock = threading.Lock()


def dispatcher() -> Dispatcher:
    """This driver's dispatcher (started on first use)."""
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is None:
            _dispatcher = Dispatcher()
        return _dispatcher


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


def reset() -> None:
    """Forget the dispatcher (Ray was shut down or re-initialised)."""
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is not None:
            _dispatcher.stop()
        _dispatcher = None
