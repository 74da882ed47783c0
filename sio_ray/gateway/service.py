"""The gateway itself: sioworkersd's methods over the state, the queue and Ray."""

from __future__ import annotations

import datetime
import fcntl
import json
import logging
import os
import signal
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from urllib.parse import urlsplit
from xmlrpc.client import Fault

from sio_ray.gateway import groups, workers
from sio_ray.gateway.delivery import Deliverer, RetryPolicy
from sio_ray.gateway.rpc import BAD_INPUT, FAILED, Server
from sio_ray.gateway.scheduler import Scheduler
from sio_ray.gateway.store import JobRow, Store, dumps
from sio_ray.queue import DEFAULT_CONTEST_PRIORITY, DEFAULT_CONTEST_WEIGHT, contest_of

logger = logging.getLogger(__name__)

#: ``get_queue`` lists at most this many groups and deliveries.
LISTED = 1000
#: Seconds ``--replace`` waits for the gateway it stops to let go of the state.
REPLACE_WITHIN = 60.0


def _number(job: dict, key: str, default: float) -> float:
    value = job.get(key)
    return default if value is None else float(value)


def _decode(raw, what: str):
    """A call parameter as OIOIOI sends it: JSON text (a struct is taken as is)."""
    if isinstance(raw, bytes):
        raw = raw.decode('utf-8', 'replace')
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise Fault(BAD_INPUT, f'{what}: invalid JSON: {exc}') from None
    return raw


def _check_return_url(group: dict) -> None:
    url = group.get('return_url')
    if not isinstance(url, str):
        raise Fault(BAD_INPUT, "group['return_url']: missing: run_group POSTs the result there "
                               "(OIOIOI sets it from SIOWORKERS_LISTEN_URL)")
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise Fault(BAD_INPUT, f"group['return_url']: {url!r} is not an http:// or https:// URL")
    try:
        parts.port
    except ValueError as exc:
        raise Fault(BAD_INPUT, f"group['return_url']: {url!r}: {exc}") from None


class Gateway:
    """sioworkersd's surface (``run_group``, ``sync_run_group``,
    ``get_workers``, ``get_queue``, ``forget_worker``) on one state
    directory, as the one Ray driver of its clients."""

    def __init__(self, state_dir: str | Path, *, max_task_ram_mib: float = groups.MAX_TASK_RAM_MIB,
                 window: int | None = None, retry: RetryPolicy = RetryPolicy(),
                 token: str | None = None):
        self.state_dir = Path(state_dir)
        self.max_task_ram_mib = max_task_ram_mib
        self._window = window
        self._retry = retry
        self._token = token
        self._stop_requested = threading.Event()
        self.exit_status = 0
        self._workers = workers.Cached(workers.get_workers, ttl=1.0)
        self.server: Server | None = None

    # -- life -----------------------------------------------------------------

    def _take_state_dir(self, replace: bool) -> None:
        """Lock the state directory (its ``gateway.lock`` holds the pid of the
        gateway using it); with ``replace``, stop that gateway first."""
        # The state holds OIOIOI's environs (user names, paths): the gateway's user only.
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = open(self.state_dir / 'gateway.lock', 'a+')
        deadline = time.monotonic() + REPLACE_WITHIN
        signalled = False
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                self._lock.seek(0)
                holder = self._lock.read().strip()
                if not replace or time.monotonic() > deadline:
                    raise RuntimeError(f'another gateway (pid {holder or "?"}) uses the state '
                                       f'directory {self.state_dir}') from None
                if not signalled and holder.isdigit():
                    logger.info('stopping the gateway (pid %s) using %s', holder, self.state_dir)
                    try:
                        os.kill(int(holder), signal.SIGTERM)
                    except OSError:
                        pass
                    signalled = True
                time.sleep(0.2)
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f'{os.getpid()}\n')
        self._lock.flush()

    def start(self, host: str, port: int, address: str | None = None,
              replace: bool = False) -> str:
        """Lock the state directory, listen, connect to Ray, take up what the
        last run left; return the URL served."""
        self._take_state_dir(replace)
        self.server = Server((host, port), {
            'run_group': self.run_group, 'sync_run_group': self.sync_run_group,
            'get_workers': self.get_workers, 'get_queue': self.get_queue,
            'forget_worker': self.forget_worker}, token=self._token)
        import ray

        import sio_ray
        sio_ray.connect(address)
        window = self._window or max(16, 4 * int(ray.cluster_resources().get('CPU', 1)))
        self.store = Store(self.state_dir)
        self.deliverer = Deliverer(self.store, self._retry)
        self.scheduler = Scheduler(self.store, window, self.deliverer.add, self.fatal)
        jobs, pending, deliveries, done = self.store.recover()
        by_group: dict[int, list[JobRow]] = {}
        for job in jobs:
            by_group.setdefault(job.group_seq, []).append(job)
        for seq, group_jobs in by_group.items():
            self.scheduler.add(seq, group_jobs)
        self.scheduler.finish_recovered(done)
        for delivery in deliveries:
            self.deliverer.add(delivery)
        if jobs or deliveries or done:
            logger.info('taken up from the last run: %d jobs of %d groups to run, %d results '
                        'to deliver', len(jobs), len(pending) + len(done), len(deliveries))
        self.scheduler.start()
        self.deliverer.start()
        self._serving = threading.Thread(target=self.server.serve_forever, name='gateway-rpc',
                                         daemon=True)
        self._serving.start()
        bound_host, bound_port = self.server.server_address[:2]
        return f'http://{bound_host}:{bound_port}/'

    def wait(self) -> int:
        """Serve until :meth:`request_stop` (or a fatal error); then stop."""
        while not self._stop_requested.wait(1.0):
            pass
        self.stop()
        return self.exit_status

    def request_stop(self) -> None:
        self._stop_requested.set()

    def fatal(self, why: str) -> None:
        """End the gateway with status 1 (a supervisor restarts it; nothing
        that was not recorded is lost: its jobs run again)."""
        logger.critical('stopping: %s', why)
        self.exit_status = 1
        self._stop_requested.set()

    def stop(self) -> None:
        """Stop serving; results not yet recorded and deliveries not yet made
        stay for the next run."""
        import sio_ray
        self.server.shutdown()
        self.server.server_close()
        self.scheduler.stop()
        self.deliverer.stop()
        sio_ray.shutdown()
        self.store.close()
        self._lock.close()

    # -- the methods ------------------------------------------------------------

    def run_group(self, group) -> str:
        """Queue a group; its result is POSTed to ``group['return_url']``."""
        return self._accept(group, sync=False)

    def sync_run_group(self, group) -> dict:
        """Run a group and return it finished (a failed job: Fault 8002)."""
        final, ran = self._accept(group, sync=True)
        if ran and 'error' in final:
            raise Fault(FAILED, final['error']['message'])
        return final

    def get_workers(self) -> list[dict]:
        return self._workers()

    def forget_worker(self, name) -> bool:
        decoded = name
        if isinstance(name, str):
            try:
                decoded = json.loads(name)
            except ValueError:
                pass
        if not isinstance(decoded, str):
            raise Fault(BAD_INPUT, f'forget_worker: {name!r} is not a worker name')
        try:
            return workers.forget_worker(decoded)
        except ValueError as exc:
            raise Fault(BAD_INPUT, str(exc)) from None

    def get_queue(self) -> dict:
        """What waits: job counts, the unfinished groups and the undelivered
        results (at most :data:`LISTED` of each, oldest first)."""
        def when(timestamp: float) -> str:
            return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()
        listed = []
        for (group_id, instance, contest, priority, weight, waiter, accepted, jobs,
             done) in self.store.read(
                "SELECT g.group_id, json_extract(g.env, '$.oioioi_instance'), "
                "json_extract(g.env, '$.contest_id'), json_extract(g.env, '$.contest_priority'), "
                "json_extract(g.env, '$.contest_weight'), g.waiter, g.accepted, "
                "(SELECT COUNT(*) FROM jobs j WHERE j.group_seq = g.seq), "
                "(SELECT COUNT(result) FROM jobs j WHERE j.group_seq = g.seq) "
                'FROM groups g ORDER BY g.seq LIMIT ?', (LISTED,)):
            listed.append({'group_id': group_id, 'oioioi_instance': instance,
                           'contest_id': contest, 'contest_priority': priority,
                           'contest_weight': weight, 'sync': bool(waiter),
                           'accepted': when(accepted), 'jobs': jobs, 'jobs_done': done})
        deliveries = [{'group_id': group_id, 'return_url': url, 'finished': when(created),
                       'attempts': attempts, 'last_error': error}
                      for group_id, url, created, attempts, error in self.store.read(
                          'SELECT group_id, return_url, created, attempts, last_error '
                          'FROM deliveries ORDER BY id LIMIT ?', (LISTED,))]
        (groups_count,), = self.store.read('SELECT COUNT(*) FROM groups')
        (deliveries_count,), = self.store.read('SELECT COUNT(*) FROM deliveries')
        return {**self.scheduler.counts(), 'groups': groups_count, 'deliveries': deliveries_count,
                'listed_groups': listed, 'listed_deliveries': deliveries}

    # -- accepting a group -------------------------------------------------------

    def _accept(self, raw, sync: bool):
        group = _decode(raw, 'group')
        if not isinstance(group, dict):
            raise Fault(BAD_INPUT, f'group: {type(group).__name__} is not a dict')
        if not sync:
            _check_return_url(group)
        try:
            prepared = groups.prepare(group, self.max_task_ram_mib)
        except ValueError as exc:
            raise Fault(BAD_INPUT, str(exc)) from None
        group_id = prepared['group_id']
        jobs = prepared['workers_jobs']
        if 'error' in prepared or not jobs:  # refused for memory, or empty: finished now
            final = prepared if 'error' in prepared else groups.finish(prepared, {})
            if sync:
                return final, False
            delivery = self.store.write(lambda conn: Store.insert_delivery(conn, final),
                                        durable=True).result()
            self.deliverer.add(delivery)
            return group_id
        rows = []
        for name, job in jobs.items():
            rows.append((name, dumps(job),
                         _number(job, 'contest_priority', DEFAULT_CONTEST_PRIORITY),
                         _number(job, 'contest_weight', DEFAULT_CONTEST_WEIGHT),
                         contest_of(job), _number(job, 'task_priority', 0)))
        env = {key: value for key, value in prepared.items() if key != 'workers_jobs'}
        try:
            seq, ids = self.store.write(
                lambda conn: Store.insert_group(conn, group_id, env, sync, rows),
                durable=not sync).result()
        except Exception as exc:
            logger.exception('could not store group %s', group_id)
            raise Fault(FAILED, f'the gateway could not store the group: {exc}') from None
        waiter: Future | None = Future() if sync else None
        self.scheduler.add(seq, [JobRow(job_id, seq, *row[2:]) for job_id, row in zip(ids, rows)],
                           waiter)
        logger.info('accepted %s (%d jobs, %s)', group_id, len(ids),
                    'sync' if sync else f"to {group['return_url']}")
        if not sync:
            return group_id
        try:
            return waiter.result(), True
        except Exception as exc:
            raise Fault(FAILED, f'{group_id}: {exc}') from None


def read_token(path: str | os.PathLike) -> str:
    """The shared secret in ``path`` (surrounding white space ignored)."""
    token = Path(path).read_text().strip()
    if not token:
        raise ValueError(f'{path}: the token file is empty')
    return token
