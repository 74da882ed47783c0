"""One job as the driver carries it: validated once, described once.

:func:`prepare` turns a caller's environ into a :class:`PreparedJob`: a
private copy of the environ (the caller's dict is never touched), what the
job needs from a node (:func:`sio.workers.requirements.requirements`), its Ray
task options, its wall-clock bound (:mod:`sio_ray.bounds`), the label by which
errors name it and, for a journaled batch, its journal key.  The queue, the
dispatcher, the journal and :func:`~sio_ray.run_group` all carry this one
object; nothing about a job is derived twice.

Bad input raises :class:`ValueError` whose message starts with the caller's
label (``environs[3]: environ['exec_mem_limit']: ...``,
``group['workers_jobs']['test1']: ...``); so does a job type no installed
package provides, before anything is queued.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from sio.workers import environ as envmod
from sio.workers import plugins
from sio.workers.requirements import Requirements, requirements
from sio.workers.wallbound import WallBound
from sio_ray import bounds, placement
from sio_ray.journal import job_key
from sio_ray.queue import PriorityQueue

_job_types: frozenset[str] = frozenset()


@dataclass(eq=False)
class PreparedJob:
    """A validated job, ready for the queue."""

    #: A private, validated copy of the caller's environ.
    environ: dict
    requirements: Requirements
    #: Ray task options before placement (name, CPUs, memory, resources, labels).
    options: dict
    bound: WallBound
    #: How errors and logs name the job, e.g. ``environs[3]`` ('' for a lone job).
    label: str = ''
    #: The job's key in a :class:`~sio_ray.journal.Journal` (None: not journaled).
    key: str | None = None

    @property
    def exclusive(self) -> bool:
        return self.requirements.exclusive

    @property
    def job_type(self) -> str:
        return str(self.environ.get('job_type'))

    def error(self, exc: Exception) -> ValueError:
        """``exc`` as a :class:`ValueError` naming this job by its label."""
        return labelled(self.label, exc)


def labelled(label: str, exc: Exception) -> ValueError:
    return ValueError(f'{label}: {exc}' if label else str(exc))


def check_job_type(environ: dict) -> None:
    """Raise :class:`ValueError` unless ``environ['job_type']`` names an
    installed job (a ``sio.jobs`` entry point)."""
    global _job_types
    job_type = environ.get('job_type')
    if not isinstance(job_type, str) or not job_type:
        raise ValueError(f"environ['job_type']: {job_type!r} is not a job type")
    if job_type not in _job_types:
        _job_types = frozenset(plugins.names(plugins.JOBS))  # installed since: look again
        if job_type not in _job_types:
            raise ValueError(f"environ['job_type']: unknown job type {job_type!r}; installed: "
                             f"{', '.join(sorted(_job_types)) or '(none)'}")


def prepare(environ: dict, label: str = '', index: int | None = None) -> PreparedJob:
    """Validate ``environ`` and describe the job (see the module docs).  With
    ``index`` (its place in a batch) the job gets its journal key."""
    try:
        envmod.validate(environ)  # the one walk in Python; the copy below is msgpack's
        check_job_type(environ)
        PriorityQueue.check(environ)
        req = requirements(environ)
        options = placement.task_options(environ, req)
        bound = bounds.bound_for(environ, req)
    except (envmod.EnvironError, ValueError, TypeError) as exc:
        raise labelled(label, exc) from None
    packed = envmod.pack(environ)
    copy = msgpack.unpackb(packed, raw=False)
    key = None if index is None else job_key(index, packed)
    return PreparedJob(copy, req, options, bound, label, key)
