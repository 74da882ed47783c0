"""A sioworkersd group in two halves, for a caller that keeps the jobs in
between (the gateway stores them): :func:`prepare` on arrival and
:func:`finish` once every job has its result.  Together they are
:func:`sio_ray.run_group` (see :mod:`sio_ray.group` for the semantics),
built from the same pieces; unknown job types and bad environs are refused
on arrival by the driver's own checks, without Ray.
"""

from __future__ import annotations

from sio_ray.group import MAX_TASK_RAM_MIB, admission_error, finish, stamp
from sio_ray.prepared import prepare as prepare_job

__all__ = ['prepare', 'finish', 'MAX_TASK_RAM_MIB']


def check_job(job: dict) -> float:
    """Raise :class:`ValueError` naming the key if the driver would refuse
    ``job`` (the driver's own checks, unknown job types included; no Ray
    needed); return the MiB it needs."""
    return prepare_job(job).requirements.memory_mib


def prepare(group: dict | str, max_task_ram_mib: float | None = MAX_TASK_RAM_MIB) -> dict:
    """The group about to run: a private copy with its ids stamped in (see the
    module docs); with ``error`` set when it is refused for memory.  Bad
    input raises :class:`ValueError` naming the key."""
    prepared = stamp(group)
    needs = []
    for name, job in prepared['workers_jobs'].items():
        try:
            needs.append(check_job(job))
        except ValueError as exc:
            raise ValueError(f"group['workers_jobs'][{name!r}]: {exc}") from None
    error = admission_error(needs, max_task_ram_mib)
    if error is not None:
        prepared['error'] = error
    return prepared
