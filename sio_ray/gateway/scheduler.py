"""The gateway's queue: every job of every client, in sioworkersd's order.

Jobs wait in the state database; in memory there is only a priority index
(:class:`sio_ray.queue.PriorityQueue` — the same rules as the driver's own
queue — of job ids, a few hundred bytes a job) and the jobs in flight.  A
feeder thread keeps at most ``window`` jobs in :mod:`sio_ray` (which orders
those again, places them and keeps ``cpu-exec`` jobs alone on their nodes),
reading their environs from the database as they go; a collector thread
records results as they come, a batch per transaction, and finishes a group
when its last job is recorded: the ``sync_run_group`` caller gets it, or it
becomes a delivery (:mod:`sio_ray.gateway.delivery`).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable

import ray

import sio_ray
from sio_ray.gateway.groups import finish
from sio_ray.queue import PriorityQueue
from sio_ray.results import failure
from sio_ray.gateway.store import Delivery, JobRow, Store, dumps

logger = logging.getLogger(__name__)

#: Jobs read from the database and handed to sio_ray in one go, at most.
FEED_BATCH = 64
#: Seconds between looks for a node able to run jobs, while there is none.
NODE_POLL = 2.0
#: What sio_ray says of a job whose Ray went away (sio_ray.dispatcher.SHUT_DOWN).
_SHUT_DOWN = 'Ray was shut down before the job finished'


class Scheduler:
    """The queue, the window in Ray and the recording of results."""

    def __init__(self, store: Store, window: int,
                 on_delivery: Callable[[Delivery], None],
                 on_fatal: Callable[[str], None]):
        self.store = store
        self.window = window
        self._on_delivery = on_delivery
        self._on_fatal = on_fatal
        self._index = PriorityQueue()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._in_flight_group: dict[int, int] = {}  # job id -> group seq
        self._pending: dict[int, int] = {}  # group seq -> jobs without a result
        self._waiters: dict[int, Future] = {}  # group seq -> the sync caller's future
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._stopping = False
        self._nodes_checked = -NODE_POLL
        self._nodes_were_up = True
        self._threads = [threading.Thread(target=self._feed, name='gateway-feeder', daemon=True),
                         threading.Thread(target=self._collect, name='gateway-collector',
                                          daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    # -- adding jobs ---------------------------------------------------------

    def add(self, seq: int, jobs: list[JobRow], waiter: Future | None = None) -> None:
        """Queue the jobs of group ``seq`` (already in the database)."""
        with self._cond:
            self._pending[seq] = self._pending.get(seq, 0) + len(jobs)
            if waiter is not None:
                self._waiters[seq] = waiter
            for job in jobs:
                self._index.push({'contest_priority': job.contest_priority,
                                  'contest_weight': job.contest_weight,
                                  'contest_uid': job.contest,
                                  'task_priority': job.task_priority}, job.id)
            self._cond.notify_all()

    def finish_recovered(self, seqs: list[int]) -> None:
        """Finish groups whose every job was recorded before a restart."""
        for seq in seqs:
            self._results.put((None, seq, None))

    # -- what is going on ------------------------------------------------------

    def counts(self) -> dict:
        with self._cond:
            return {'queued_jobs': len(self._index), 'in_flight_jobs': self._in_flight,
                    'window': self.window, 'unfinished_groups': len(self._pending),
                    'queued_by_contest_priority': {
                        f'{p:g}': n for p, n in self._index.by_priority().items()}}

    # -- stopping ------------------------------------------------------------

    def stop(self) -> None:
        """Stop feeding; results arriving from now on are not recorded (their
        jobs run again after a restart).  Results already collected are."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._results.put(None)
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(30)
        with self._cond:
            waiters, self._waiters = list(self._waiters.values()), {}
        for waiter in waiters:
            waiter.set_exception(RuntimeError('the gateway stopped before the group finished'))

    # -- the feeder -----------------------------------------------------------

    def _nodes_up(self) -> bool:
        """Whether some alive node has CPUs (asked at most every NODE_POLL s).
        While none has, jobs wait here: sio_ray would fail at once every job
        no node can run, and an outage of every judging node must not turn
        the queue into failed groups."""
        now = time.monotonic()
        if now - self._nodes_checked >= NODE_POLL:
            self._nodes_checked = now
            try:
                up = any(node.get('Alive') and (node.get('Resources') or {}).get('CPU', 0) > 0
                         for node in ray.nodes())
            except Exception:  # Ray itself is unwell: sio_ray tells the jobs
                up = True
            if up != self._nodes_were_up:
                if up:
                    logger.warning('a node that can run jobs is back: feeding Ray again')
                else:
                    logger.warning('no alive Ray node has CPUs: jobs wait in the gateway')
            self._nodes_were_up = up
        return self._nodes_were_up

    def _feed(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not (self._index and self._in_flight < self.window):
                    self._cond.wait()
                if self._stopping:
                    return
            if not self._nodes_up():
                with self._cond:
                    self._cond.wait(NODE_POLL)
                continue
            with self._cond:
                if self._stopping:
                    return
                count = min(self.window - self._in_flight, len(self._index), FEED_BATCH)
                if count <= 0:
                    continue
                ids = [self._index.pop() for _ in range(count)]
                self._in_flight += count
            try:
                self._submit(ids)
            except Exception:
                logger.exception('could not hand %d jobs to Ray', len(ids))
                self._on_fatal('could not hand jobs to Ray')
                return

    def _submit(self, ids: list[int]) -> None:
        rows = self.store.load_jobs(ids)
        missing = [job_id for job_id in ids if job_id not in rows]
        if missing:  # cannot happen: a queued job stays in the database until its group ends
            logger.error('queued jobs %s are not in the state database', missing)
            with self._cond:
                self._in_flight -= len(missing)
            ids = [job_id for job_id in ids if job_id in rows]
        environs = [json.loads(rows[job_id][1]) for job_id in ids]
        with self._cond:
            for job_id in ids:
                self._in_flight_group[job_id] = rows[job_id][0]
        for job_id, future in zip(ids, self._futures(environs)):
            future.add_done_callback(lambda done, job_id=job_id: self._done(job_id, done))

    @staticmethod
    def _futures(environs: list[dict]) -> list[Future]:
        try:
            return sio_ray.submit_many(environs)
        except ValueError:  # one of them refused: find it, run the others
            pass
        futures = []
        for environ in environs:
            try:
                futures += sio_ray.submit_many([environ])
            except ValueError as exc:
                refused = Future()
                refused.set_result(failure(environ, f'sio_ray refused the job: {exc}'))
                futures.append(refused)
        return futures

    def _done(self, job_id: int, future: Future) -> None:
        result = future.result()
        with self._cond:
            self._in_flight -= 1
            seq = self._in_flight_group.pop(job_id)
            stopping = self._stopping
            self._cond.notify_all()
        if stopping:
            return
        if not getattr(future, 'ran', False) and (
                result.get('exception') == _SHUT_DOWN or not ray.is_initialized()):
            # Ray went away under the gateway: record nothing (the job runs
            # again after a restart) and end, so that a supervisor restarts it.
            self._on_fatal('the connection to Ray was lost')
            return
        self._results.put((job_id, seq, result))

    # -- the collector ----------------------------------------------------------

    def _collect(self) -> None:
        while True:
            item = self._results.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < Store.BATCH:
                try:
                    item = self._results.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._results.put(None)  # end after this batch
                    break
                batch.append(item)
            try:
                self._record(batch)
            except Exception:
                logger.exception('could not record results in the state database')
                self._on_fatal('could not record results')
                return

    def _record(self, batch: list[tuple]) -> None:
        results = [(job_id, dumps(result)) for job_id, _, result in batch if job_id is not None]
        finished = []
        with self._cond:
            for job_id, seq, _ in batch:
                if job_id is None:  # a recovered group, already complete
                    self._pending.pop(seq, None)
                    finished.append(seq)
                    continue
                self._pending[seq] -= 1
                if not self._pending[seq]:
                    del self._pending[seq]
                    finished.append(seq)

        def record(conn):
            Store.record_results(conn, results)
            done = []
            for seq in finished:
                env, waiter, jobs, by_name = Store.take_group(conn, seq)
                final = finish({**env, 'workers_jobs': jobs}, by_name)
                done.append((seq, final, None if waiter else Store.insert_delivery(conn, final)))
            return done

        for seq, final, delivery in self.store.write(record).result():
            if delivery is not None:
                self._on_delivery(delivery)
            else:
                with self._cond:
                    waiter = self._waiters.pop(seq, None)
                if waiter is not None:
                    waiter.set_result(final)
