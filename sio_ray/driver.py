"""The driver API: submit environs to Ray and get result environs back.

Jobs wait in the driver's priority queue (:mod:`sio_ray.queue`) and a small
window of them runs in Ray (:mod:`sio_ray.dispatcher`).  Every environ is
validated — JSON-compatible values, sane limits and priorities — before
anything of a call is queued; a bad one raises :class:`ValueError` naming the
key and nothing is submitted.  A job that no node can ever run (for example
an isolated job on a cluster without working sandboxes) comes back at once
as ``result: FAILURE`` naming the missing capability.  A job's own error comes
back as ``result: FAILURE`` with ``exception`` and ``traceback``, as from
``sio-batch``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import as_completed as futures_completed

import ray

from sio.workers import environ as envmod
from sio.workers.requirements import requirements
from sio.workers.wallbound import WallBound
from sio_ray import bounds, placement, tags
from sio_ray.connection import connect
from sio_ray.dispatcher import dispatcher
from sio_ray.journal import Journal, job_key
from sio_ray.queue import PriorityQueue
from sio_ray.results import failure
from sio_ray.task import run_job


def _prepare(environ: dict, index: int | None = None) -> tuple[dict, dict, WallBound]:
    """Validate one environ; return (a private copy, its Ray options, its wall-clock bound)."""
    where = '' if index is None else f'environs[{index}]: '
    try:
        envmod.validate(environ)
        PriorityQueue.check(environ)
        options = placement.task_options(environ, requirements(environ))
        bound = bounds.bound_for(environ)
    except (envmod.EnvironError, ValueError, TypeError) as exc:
        raise ValueError(f'{where}{exc}') from None
    return copy.deepcopy(environ), options, bound


def _check_feasible(environ: dict, options: dict, nodes: list[dict]) -> tuple[dict, dict | None]:
    """Options fitted to the cluster, and a FAILURE environ if no node can ever run the job."""
    options = placement.fit_cpus(options, nodes)
    missing = placement.missing_capability(options, nodes)
    if missing:
        return options, failure(environ, f'no node can run this {environ.get("job_type")!r} '
                                         f'job: {missing}')
    return options, None


def submit(environ: dict, **options) -> ray.ObjectRef:
    """Hand one job to Ray at once, outside the driver's queue; the reference
    resolves to its result environ.  ``options`` override the Ray task options
    derived from the environ.  (Exclusive jobs keep their node to themselves
    but, unqueued, may wait behind later jobs: prefer :func:`run_many`.)
    The job is held to its wall-clock bound (:mod:`sio_ray.bounds`); past
    it, the task is stopped and the reference raises ``TaskCancelledError``."""
    prepared, derived, bound = _prepare(environ)
    connect()
    options, failure = _check_feasible(prepared, {**derived, **options}, ray.nodes())
    if failure is not None:
        return ray.put(failure)
    ref = run_job.options(**options).remote(prepared)
    dispatcher().watch(ref, prepared, bound)
    return ref


def _done(result: dict) -> Future:
    future = Future()
    future.set_result(result)
    return future


def _recorded(inner: Future, journal: Journal, key: str) -> Future:
    """A future that resolves only once the result is safely in the journal.
    Only the result of a job that ran is recorded: one that was cancelled,
    shut down with its driver or lost runs again when the batch is resumed."""
    outer = Future()

    def record(done: Future) -> None:
        result = done.result()
        try:
            if getattr(done, 'ran', False):
                journal.record(key, result)
        except Exception as exc:  # e.g. the journal was closed: say so, never hang
            outer.set_exception(exc)
        else:
            outer.set_result(result)

    inner.add_done_callback(record)
    return outer


def submit_many(environs: Iterable[dict], journal: Journal | None = None) -> list[Future]:
    """Validate every environ (nothing is queued if one is bad), then queue them
    by priority; each future resolves to a result environ.  With a
    :class:`~sio_ray.journal.Journal`, jobs it holds a result for are not run
    again and new results are recorded in it as they arrive."""
    prepared = [_prepare(env, i) for i, env in enumerate(environs)]
    connect()
    nodes = ray.nodes()
    queue = dispatcher()
    futures = []
    for index, (env, options, bound) in enumerate(prepared):
        key = job_key(index, env) if journal is not None else None
        recorded = journal.result(key) if journal is not None else None
        if recorded is not None:
            futures.append(_done(recorded))
            continue
        options, failure = _check_feasible(env, options, nodes)
        if failure is not None:
            future = _done(failure)
        else:
            exclusive = options['resources'].get(tags.NODE_SLOT, 0) >= 1
            future = queue.submit(env, options, exclusive, bound)
        if journal is not None:
            future = _recorded(future, journal, key)
        futures.append(future)
    return futures


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
    dispatcher().cancel(list(futures))
