"""The gateway's state: one SQLite database in the state directory.

``<state dir>/gateway.sqlite3`` holds three tables:

``groups``
    every group accepted and not finished: the group environ without its jobs
    (JSON), whether a ``sync_run_group`` caller waits for it, when it came;
``jobs``
    the jobs of those groups: name, stamped environ (JSON), the four
    priority keys as columns (so the in-memory index is rebuilt without
    reading environs), and the result (JSON) once the job ran;
``deliveries``
    finished ``run_group`` groups not yet accepted by their ``return_url``:
    the JSON body to POST, how many attempts were made, the last error.

A ``run_group`` group is committed durably (``synchronous=FULL``: on disk,
through a power loss) before its id goes back to the caller.  Everything
else — results, finished groups turned into deliveries, delivery attempts —
is committed without waiting for the disk (``synchronous=NORMAL`` in WAL
mode): it survives the gateway being killed; after a power loss the database
goes back to a consistent earlier state, where the group is still queued and
runs again, or the delivery is sent again.

All writes go through one writer thread, which commits whatever is waiting
in one transaction (a group commit), so concurrent callers share a sync.
Reads use a connection of their own (WAL readers never wait for the writer).
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger(__name__)

DATABASE = 'gateway.sqlite3'

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id TEXT NOT NULL UNIQUE,
    env TEXT NOT NULL,
    waiter INTEGER NOT NULL,
    accepted REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    group_seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    environ TEXT NOT NULL,
    contest_priority REAL NOT NULL,
    contest_weight REAL NOT NULL,
    contest TEXT NOT NULL,
    task_priority REAL NOT NULL,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_group ON jobs (group_seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    group_id TEXT NOT NULL,
    return_url TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
"""


def dumps(value: Any) -> str:
    """Compact, ASCII-only JSON (any lone surrogate a client sent survives)."""
    return json.dumps(value, separators=(',', ':'))


@dataclass(frozen=True)
class JobRow:
    """One queued job as the in-memory index needs it (no environ)."""
    id: int
    group_seq: int
    contest_priority: float
    contest_weight: float
    contest: str
    task_priority: float


@dataclass(frozen=True)
class Delivery:
    """A finished group waiting to be POSTed (its body stays on disk)."""
    id: int
    group_id: str
    return_url: str
    created: float
    attempts: int = 0


@dataclass
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    durable: bool
    future: Future = field(default_factory=Future)


class Store:
    """The database of one state directory (see the module docs)."""

    #: Most operations committed in one transaction.
    BATCH = 512

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DATABASE
        setup = self._connect()
        setup.execute('PRAGMA journal_mode=WAL')
        setup.execute('PRAGMA journal_size_limit=67108864')  # the WAL shrinks back to 64 MiB
        setup.executescript(_SCHEMA)
        setup.close()
        self._reader = self._connect(check_same_thread=False)
        self._reader_lock = threading.Lock()
        self._ops: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name='gateway-store',
                                        daemon=True)
        self._writer.start()

    def _connect(self, **kwargs) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60, **kwargs)
        conn.execute('PRAGMA busy_timeout=60000')
        return conn

    # -- the writer ---------------------------------------------------------

    def write(self, fn: Callable[[sqlite3.Connection], Any], durable: bool = False) -> Future:
        """Run ``fn(connection)`` in the writer's next transaction; the future
        resolves to what it returned once the transaction is committed (or to
        its exception, in which case nothing it did is kept)."""
        op = _Op(fn, durable)
        self._ops.put(op)
        return op.future

    def close(self) -> None:
        """Commit what is waiting, then stop the writer and close the database."""
        self._ops.put(None)
        self._writer.join()
        with self._reader_lock:
            self._reader.close()

    def _write_loop(self) -> None:
        conn = self._connect()
        synchronous = None
        stopping = False
        while not stopping:
            first = self._ops.get()
            if first is None:
                break
            ops = [first]
            while len(ops) < self.BATCH:
                try:
                    op = self._ops.get_nowait()
                except queue.Empty:
                    break
                if op is None:
                    stopping = True
                    break
                ops.append(op)
            wanted = 'FULL' if any(op.durable for op in ops) else 'NORMAL'
            if wanted != synchronous:
                conn.execute(f'PRAGMA synchronous={wanted}')
                synchronous = wanted
            outcomes: list[tuple[bool, Any]] = []
            try:
                conn.execute('BEGIN IMMEDIATE')
                for op in ops:
                    conn.execute('SAVEPOINT op')
                    try:
                        outcomes.append((True, op.fn(conn)))
                    except Exception as exc:  # that op's work is undone, not the others'
                        conn.execute('ROLLBACK TO op')
                        outcomes.append((False, exc))
                    conn.execute('RELEASE op')
                conn.execute('COMMIT')
            except Exception as exc:
                logger.exception('the state database could not commit')
                try:
                    conn.execute('ROLLBACK')
                except sqlite3.Error:
                    pass
                outcomes = [(False, exc)] * len(ops)
            for op, (ok, value) in zip(ops, outcomes):
                if ok:
                    op.future.set_result(value)
                else:
                    op.future.set_exception(value)
        conn.close()

    # -- reads --------------------------------------------------------------

    def read(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._reader_lock:
            return self._reader.execute(sql, params).fetchall()

    def load_jobs(self, ids: list[int]) -> dict[int, tuple[int, str]]:
        """``{job id: (group seq, environ JSON)}`` of the queued jobs ``ids``."""
        found: dict[int, tuple[int, str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ','.join('?' * len(chunk))
            for job_id, seq, environ in self.read(
                    f'SELECT id, group_seq, environ FROM jobs WHERE id IN ({marks})', chunk):
                found[job_id] = (seq, environ)
        return found

    def delivery_body(self, delivery_id: int) -> str | None:
        rows = self.read('SELECT body FROM deliveries WHERE id = ?', (delivery_id,))
        return rows[0][0] if rows else None

    # -- operations (each runs in the writer) -------------------------------

    @staticmethod
    def insert_group(conn: sqlite3.Connection, group_id: str, env: dict, waiter: bool,
                     jobs: list[tuple[str, str, float, float, str, float]]) -> tuple[int, list[int]]:
        """Store an accepted group and its jobs ``(name, environ JSON, contest
        priority, contest weight, contest, task priority)``; return its
        sequence number and its jobs' ids, in order."""
        seq = conn.execute('INSERT INTO groups (group_id, env, waiter, accepted) '
                           'VALUES (?, ?, ?, ?)',
                           (group_id, dumps(env), int(waiter), time.time())).lastrowid
        ids = []
        for job in jobs:
            ids.append(conn.execute(
                'INSERT INTO jobs (group_seq, name, environ, contest_priority, contest_weight, '
                'contest, task_priority) VALUES (?, ?, ?, ?, ?, ?, ?)', (seq, *job)).lastrowid)
        return seq, ids

    @staticmethod
    def insert_delivery(conn: sqlite3.Connection, finished: dict) -> Delivery:
        """Store a finished group for POSTing to its ``return_url``."""
        created = time.time()
        delivery_id = conn.execute(
            'INSERT INTO deliveries (group_id, return_url, body, created) VALUES (?, ?, ?, ?)',
            (finished['group_id'], finished['return_url'], dumps(finished), created)).lastrowid
        return Delivery(delivery_id, finished['group_id'], finished['return_url'], created)

    @staticmethod
    def record_results(conn: sqlite3.Connection, results: list[tuple[int, str]]) -> None:
        conn.executemany('UPDATE jobs SET result = ? WHERE id = ?',
                         [(result, job_id) for job_id, result in results])

    @staticmethod
    def take_group(conn: sqlite3.Connection, seq: int) -> tuple[dict, bool, dict[str, dict],
                                                                 dict[str, dict]]:
        """Remove a finished group; return its environ (no jobs), whether a
        caller waits for it, its jobs and their results by name."""
        group_id, env, waiter = conn.execute(
            'SELECT group_id, env, waiter FROM groups WHERE seq = ?', (seq,)).fetchone()
        jobs, results = {}, {}
        for name, environ, result in conn.execute(
                'SELECT name, environ, result FROM jobs WHERE group_seq = ? ORDER BY id', (seq,)):
            jobs[name] = json.loads(environ)
            results[name] = json.loads(result)
        conn.execute('DELETE FROM jobs WHERE group_seq = ?', (seq,))
        conn.execute('DELETE FROM groups WHERE seq = ?', (seq,))
        return json.loads(env), bool(waiter), jobs, results

    def recover(self) -> tuple[list[JobRow], dict[int, int], list[Delivery], list[int]]:
        """After a start: drop groups whose callers were waiting (their
        connections died with the last gateway); return the jobs still to
        run (in the order they came), the unfinished jobs of each group, the
        deliveries pending, and the groups whose every job has a result."""
        def recover(conn):
            waiting = [seq for (seq,) in conn.execute('SELECT seq FROM groups WHERE waiter = 1')]
            for seq in waiting:
                conn.execute('DELETE FROM jobs WHERE group_seq = ?', (seq,))
                conn.execute('DELETE FROM groups WHERE seq = ?', (seq,))
            if waiting:
                logger.info('dropped %d sync_run_group groups of the last run (their callers '
                            'are gone)', len(waiting))
            jobs = [JobRow(*row) for row in conn.execute(
                'SELECT id, group_seq, contest_priority, contest_weight, contest, task_priority '
                'FROM jobs WHERE result IS NULL ORDER BY id')]
            pending: dict[int, int] = {}
            for job in jobs:
                pending[job.group_seq] = pending.get(job.group_seq, 0) + 1
            done = [seq for (seq,) in conn.execute('SELECT seq FROM groups ORDER BY seq')
                    if seq not in pending]
            deliveries = [Delivery(*row) for row in conn.execute(
                'SELECT id, group_id, return_url, created, attempts FROM deliveries ORDER BY id')]
            return jobs, pending, deliveries, done
        return self.write(recover).result()
