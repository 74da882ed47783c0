"""The driver API: submit environs to Ray and get result environs back.

Every environ is validated — JSON-compatible values, sane limits — before
anything of a call is queued; a bad one raises :class:`ValueError` naming the
key and nothing is submitted.  A job that no node can ever run (for example
an isolated job on a cluster without working sandboxes) comes back at once
as ``result: FAILURE`` naming the missing capability.  A job's own error comes
back as ``result: FAILURE`` with ``exception`` and ``traceback``, as from
``sio-batch``.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Iterable, Iterator

import ray

from sio.workers import environ as envmod
from sio.workers.requirements import requirements
from sio_ray import placement
from sio_ray.connection import connect
from sio_ray.task import run_job


def _prepare(environ: dict, index: int | None = None) -> tuple[dict, dict]:
    """Validate one environ; return (a private copy, its Ray options)."""
    where = '' if index is None else f'environs[{index}]: '
    try:
        envmod.validate(environ)
        options = placement.task_options(environ, requirements(environ))
    except (envmod.EnvironError, ValueError, TypeError) as exc:
        raise ValueError(f'{where}{exc}') from None
    return copy.deepcopy(environ), options


def _failure(environ: dict, message: str) -> dict:
    result = dict(environ)
    result.update(result='FAILURE', exception=message,
                  traceback=''.join(traceback.format_stack(limit=3)))
    return result


def _submit_prepared(environ: dict, options: dict, nodes: list[dict]) -> ray.ObjectRef:
    options = placement.fit_cpus(options, nodes)
    missing = placement.missing_capability(options, nodes)
    if missing:
        return ray.put(_failure(environ, f'no node can run this {environ.get("job_type")!r} '
                                         f'job: {missing}'))
    return run_job.options(**options).remote(environ)


def submit(environ: dict, **options) -> ray.ObjectRef:
    """Queue one job; the reference resolves to its result environ.

    ``options`` override the Ray task options derived from the environ.
    """
    prepared, derived = _prepare(environ)
    connect()
    return _submit_prepared(prepared, {**derived, **options}, ray.nodes())


def _submit_all(environs: Iterable[dict]) -> list[ray.ObjectRef]:
    prepared = [_prepare(env, i) for i, env in enumerate(environs)]  # all valid, or nothing queued
    connect()
    nodes = ray.nodes()
    return [_submit_prepared(env, options, nodes) for env, options in prepared]


def run(environ: dict) -> dict:
    """Run one job and return its result environ."""
    return ray.get(submit(environ))


def run_many(environs: Iterable[dict]) -> list[dict]:
    """Run jobs; results in input order."""
    return ray.get(_submit_all(environs))


def as_completed(environs: Iterable[dict]) -> Iterator[dict]:
    """Run jobs; yield each result as soon as it is ready."""
    pending = _submit_all(environs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def run_group(group: dict) -> dict:
    """Run a sioworkersd group: ``group['workers_jobs']`` maps job names to
    environs; the group comes back with ``workers_jobs.results`` mapping the
    same names to result environs.  Every job runs even when another fails."""
    jobs = group.get('workers_jobs')
    if not isinstance(jobs, dict) or not jobs:
        raise ValueError("group['workers_jobs']: must be a non-empty dict of job name: environ")
    names = list(jobs)
    results = run_many(jobs[name] for name in names)
    finished = dict(group)
    finished['workers_jobs.results'] = dict(zip(names, results))
    return finished
