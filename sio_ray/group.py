"""sioworkersd's job groups on Ray: :func:`run_group`.

OIOIOI hands sioworkersd a *group*: an environ whose ``workers_jobs`` maps job
names to job environs, with the contest's ``oioioi_instance``, ``contest_id``,
``contest_priority`` and ``contest_weight`` at the top.  As sioworkersd does,
:func:`run_group`

* accepts the group as a dict or as its JSON text, and an empty group;
* stamps ``group_id`` (``GROUP_urn:uuid:…``) into the group and every job, a
  fresh ``task_id`` (``urn:uuid:…``) and ``contest_uid``
  (``[oioioi_instance, contest_id]``) into every job, and schedules every job
  with the group's contest priority and weight;
* refuses, before anything runs, a group one of whose jobs needs more memory
  than ``max_task_ram_mib`` (sioworkersd's ``--max-task-ram``, 2048 MiB):
  the group comes back with ``error`` and no results;
* runs every job even when some fail, and returns the whole group with
  ``workers_jobs.results`` holding the result environs of the jobs that
  succeeded (each also says which ``worker`` ran it); when some failed, each
  failed job in ``workers_jobs`` gets its ``error`` and the group an
  ``error`` (``{message, traceback}``) starting ``Some tasks in a group failed.``
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable

from sio.workers.results import FAILURE
from sio_ray.driver import submit_prepared
from sio_ray.prepared import prepare

__all__ = ['run_group', 'stamp', 'admission_error', 'finish', 'MAX_TASK_RAM_MIB']

#: sioworkersd's default ``--max-task-ram``.
MAX_TASK_RAM_MIB = 2048


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
            raise ValueError(f"group['workers_jobs'][{name!r}]: {type(job).__name__} is not an environ")
    return copy.deepcopy(group)


def stamp(group: dict | str) -> dict:
    """A private copy of ``group`` (a dict or its JSON text) with its ids and
    scheduling keys stamped into every job (see the module docs); bad input
    raises :class:`ValueError` naming the key."""
    stamped = _parse(group)
    group_id = 'GROUP_' + uuid.uuid4().urn
    stamped['group_id'] = group_id
    contest_uid = [stamped.get('oioioi_instance'), stamped.get('contest_id')]
    for job in stamped['workers_jobs'].values():
        job.update(group_id=group_id, task_id=uuid.uuid4().urn, contest_uid=contest_uid)
        for key in ('contest_priority', 'contest_weight'):
            if key in stamped:
                job[key] = stamped[key]
    return stamped


def admission_error(needs_mib: Iterable[float], limit: float | None) -> dict | None:
    """sioworkersd's ``error`` for a group one of whose jobs needs more than
    ``limit`` MiB (None: no limit), or None."""
    if limit is None:
        return None
    for needed in needs_mib:
        if needed > limit:
            return {'message': f'One of the tasks requires {needed:g} MiB of RAM, '
                               f'exceeding the limit of {limit:g} MiB',
                    'traceback': ''}
    return None


def finish(group: dict, results: dict[str, dict]) -> dict:
    """``group`` (changed in place) finished with its jobs' ``results`` (by job name)."""
    jobs = group['workers_jobs']
    succeeded, failures, tracebacks = {}, [], []
    for name in jobs:
        result = results[name]
        if result.get('result') == FAILURE:
            jobs[name]['error'] = {'message': str(result.get('exception', '')),
                                   'traceback': str(result.get('traceback', ''))}
            failures.append(f'{name}: {result.get("exception", "")}')
            tracebacks.append(f'{name}:\n{result.get("traceback", "")}')
        else:
            succeeded[name] = result
    group['workers_jobs.results'] = succeeded
    if failures:
        group['error'] = {'message': 'Some tasks in a group failed.\n\n' + '\n'.join(failures),
                          'traceback': '\n'.join(tracebacks)}
    return group


def run_group(group: dict | str, max_task_ram_mib: float | None = MAX_TASK_RAM_MIB) -> dict:
    """Run a sioworkersd group (see the module docs) and return it finished.

    A group that is not a dict of job environs, or holds a bad environ,
    raises :class:`ValueError` naming the key before anything is queued.
    """
    finished = stamp(group)
    jobs = finished['workers_jobs']
    names = list(jobs)
    prepared = [prepare(jobs[name], f"group['workers_jobs'][{name!r}]") for name in names]
    error = admission_error((job.requirements.memory_mib for job in prepared), max_task_ram_mib)
    if error is not None:
        finished['error'] = error
        return finished
    results = [future.result() for future in submit_prepared(prepared)]
    return finish(finished, dict(zip(names, results)))
