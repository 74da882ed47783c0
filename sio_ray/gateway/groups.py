"""A sioworkersd group in two halves: :func:`prepare` on arrival, :func:`finish`
once every job has its result — the semantics of :func:`sio_ray.run_group`,
for a caller that keeps the jobs in between (the gateway stores them).

* a group is a dict (or its JSON text) whose ``workers_jobs`` maps job names
  to job environs; an empty group is legal;
* ``group_id`` (``GROUP_urn:uuid:…``) goes into the group and every job, a
  fresh ``task_id`` (``urn:uuid:…``) and ``contest_uid``
  (``[oioioi_instance, contest_id]``) into every job, and the group's
  ``contest_priority`` and ``contest_weight`` into every job (what
  :class:`sio_ray.queue.PriorityQueue` orders by);
* a job needing more than ``max_task_ram_mib`` (sioworkersd's
  ``--max-task-ram``) makes the whole group come back at once with
  ``error`` and no results;
* the finished group has ``workers_jobs.results`` with the result environs
  of the jobs that succeeded; each failed job gets its ``error`` in
  ``workers_jobs`` and the group an ``error`` starting ``Some tasks in a
  group failed.``
"""

from __future__ import annotations

import copy
import json
import uuid

from sio.workers import environ as envmod
from sio.workers.requirements import requirements
from sio_ray import bounds
from sio_ray.group import MAX_TASK_RAM_MIB
from sio_ray.queue import PriorityQueue

__all__ = ['prepare', 'finish', 'MAX_TASK_RAM_MIB']


def _parse(group: dict | str) -> dict:
    if isinstance(group, (str, bytes)):
        try:
            group = json.loads(group)
        except ValueError as exc:
            raise ValueError(f'group: invalid JSON: {exc}') from None
    if not isinstance(group, dict):
        raise ValueError(f'group: {type(group).__name__} is not a dict')
    jobs = group.get('workers_jobs')
    if not isinstance(jobs, dict):
        raise ValueError("group['workers_jobs']: must be a dict of job name: environ")
    for name, job in jobs.items():
        if not isinstance(job, dict):
            raise ValueError(f"group['workers_jobs'][{name!r}]: {type(job).__name__} is not an "
                             'environ')
    return copy.deepcopy(group)


def check_job(job: dict) -> float:
    """Raise :class:`ValueError` naming the key if the driver would refuse
    ``job`` (what can be told without Ray); return the MiB it needs."""
    try:
        envmod.validate(job)
        PriorityQueue.check(job)
        bounds.bound_for(job)
        return requirements(job).memory_mib
    except (envmod.EnvironError, ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def prepare(group: dict | str, max_task_ram_mib: float | None = MAX_TASK_RAM_MIB) -> dict:
    """The group about to run: a private copy with its ids stamped in (see the
    module docs); with ``error`` set when it is refused for memory.  Bad
    input raises :class:`ValueError` naming the key."""
    prepared = _parse(group)
    group_id = 'GROUP_' + uuid.uuid4().urn
    prepared['group_id'] = group_id
    contest_uid = [prepared.get('oioioi_instance'), prepared.get('contest_id')]
    jobs = prepared['workers_jobs']
    for job in jobs.values():
        job.update(group_id=group_id, task_id=uuid.uuid4().urn, contest_uid=contest_uid)
        for key in ('contest_priority', 'contest_weight'):
            if key in prepared:
                job[key] = prepared[key]
    needs = {}
    for name, job in jobs.items():
        try:
            needs[name] = check_job(job)
        except ValueError as exc:
            raise ValueError(f"group['workers_jobs'][{name!r}]: {exc}") from None
    if max_task_ram_mib is not None:
        for needed in needs.values():
            if needed > max_task_ram_mib:
                prepared['error'] = {
                    'message': f'One of the tasks requires {needed:g} MiB of RAM, '
                               f'exceeding the limit of {max_task_ram_mib:g} MiB',
                    'traceback': ''}
                break
    return prepared


def finish(prepared: dict, results: dict[str, dict]) -> dict:
    """``prepared`` (changed in place) finished with ``results`` (by job name)."""
    jobs = prepared['workers_jobs']
    succeeded, failures, tracebacks = {}, [], []
    for name in jobs:
        result = results[name]
        if result.get('result') == 'FAILURE':
            jobs[name]['error'] = {'message': str(result.get('exception', '')),
                                   'traceback': str(result.get('traceback', ''))}
            failures.append(f'{name}: {result.get("exception", "")}')
            tracebacks.append(f'{name}:\n{result.get("traceback", "")}')
        else:
            succeeded[name] = result
    prepared['workers_jobs.results'] = succeeded
    if failures:
        prepared['error'] = {'message': 'Some tasks in a group failed.\n\n' + '\n'.join(failures),
                             'traceback': '\n'.join(tracebacks)}
    return prepared
