"""The driver API: submit environs to Ray and get result environs back.

Jobs wait in the driver's priority queue (:mod:`sio_ray.queue`) and a small
window of them runs in Ray (:mod:`sio_ray.dispatcher`).  Every environ is
prepared (:mod:`sio_ray.prepared`: validated — JSON-compatible values, an
installed job type, sane limits and priorities — and described once) before
anything of a call is queued; a bad one raises :class:`ValueError` naming the
environ and the key, and nothing is submitted.  A job that no node can ever
run (for example an isolated job on a cluster without working sandboxes)
comes back at once as ``result: FAILURE`` naming the missing capability.  A
job's own error comes back as ``result: FAILURE`` with ``exception`` and
``traceback``, as from ``sio-batch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import as_completed as futures_completed

import ray

from sio_ray.connection import connect
from sio_ray.journal import Journal
from sio_ray.prepared import PreparedJob, prepare


def submit(environ: dict, **options) -> ray.ObjectRef:
    """Hand one job to Ray at once, outside the driver's queue; the reference
    resolves to its result environ.  ``options`` override the Ray task options
    derived from the environ.  (Exclusive jobs keep their node to themselves
    but, unqueued, may wait behind later jobs: prefer :func:`run_many`.)
    The job is held to its wall-clock bound (:mod:`sio_ray.bounds`); past
    it, the task is stopped and the reference raises ``TaskCancelledError``."""
    job = prepare(environ)
    return connect().dispatcher.start_now(job, options)


def _done(result: dict) -> Future:
    future = Future()
    future.set_result(result)
    return future


def _recorded(inner: Future, journal: Journal, key: str) -> Future:
    """A future that resolves only once the result is safely in the journal.
    Only the result of a job that ran is recorded: one that was cancelled,
    shut down with its driver or lost runs again when the batch is resumed."""
    outer = Future()
    outer.inner = inner  # what cancel() stops

    def record(done: Future) -> None:
        result = done.result()
        outer.ran = getattr(done, 'ran', False)
        try:
            if outer.ran:
                journal.record(key, result)
        except Exception as exc:  # e.g. the journal was closed: say so, never hang
            outer.set_exception(exc)
        else:
            outer.set_result(result)

    inner.add_done_callback(record)
    return outer


def submit_prepared(jobs: list[PreparedJob], journal: Journal | None = None) -> list[Future]:
    """Queue jobs already prepared (:func:`sio_ray.prepared.prepare`, with
    their index when journaled); futures in the same order."""
    session = connect()
    futures: list[Future | None] = [None] * len(jobs)
    todo = []
    for i, job in enumerate(jobs):
        recorded = journal.result(job.key) if journal is not None else None
        if recorded is not None:
            futures[i] = _done(recorded)
        else:
            todo.append(i)
    queued = session.dispatcher.submit_all([jobs[i] for i in todo])
    for i, future in zip(todo, queued):
        futures[i] = _recorded(future, journal, jobs[i].key) if journal is not None else future
    return futures


def submit_many(environs: Iterable[dict], journal: Journal | None = None) -> list[Future]:
    """Validate every environ (nothing is queued if one is bad), then queue them
    by priority; each future resolves to a result environ.  With a
    :class:`~sio_ray.journal.Journal`, jobs it holds a result for are not run
    again and new results are recorded in it as they arrive."""
    keyed = journal is not None
    jobs = [prepare(env, f'environs[{i}]', i if keyed else None)
            for i, env in enumerate(environs)]
    return submit_prepared(jobs, journal)


def validate(environ: dict) -> None:
    """Raise :class:`ValueError` naming the key if :func:`submit_many` would
    refuse ``environ``; queue nothing."""
    prepare(environ)


def run(environ: dict) -> dict:
    """Run one job (through the driver's priority queue) and return its result environ."""
    return submit_many([environ])[0].result()


def run_many(environs: Iterable[dict], journal: Journal | None = None) -> list[dict]:
    """Run jobs by priority; results in input order (see :func:`submit_many`)."""
    return [future.result() for future in submit_many(environs, journal)]


def as_completed(environs: Iterable[dict], journal: Journal | None = None) -> Iterator[dict]:
    """Run jobs by priority; yield each result as soon as it is ready."""
    for future in futures_completed(submit_many(environs, journal)):
        yield future.result()


def cancel(futures: Iterable[Future]) -> None:
    """Cancel jobs of :func:`submit_many`: queued ones never run, running ones
    are interrupted and their sandboxes killed; each comes back as FAILURE."""
    connect().dispatcher.cancel([getattr(f, 'inner', f) for f in futures])
