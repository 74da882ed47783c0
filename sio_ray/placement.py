"""From what a job needs (:func:`sio.workers.requirements.requirements`) to Ray
task options (which node may run them is :mod:`sio_ray.scheduling`'s concern)."""

from __future__ import annotations

from sio.workers.requirements import Requirements, requirements
from sio_ray import tags

_MIB = 1 << 20


def task_name(environ: dict) -> str:
    """``sio:<job_type>``: the name of the job's Ray task, so that ``ray summary
    tasks`` and the dashboard count jobs by type.  The job's own id
    (:func:`job_id`) is the first line of the task's log, which the
    dashboard shows with the task's details; the result environ names its
    Ray task (``ray_task_id``) and node (``ray_node_id``)."""
    return f"sio:{environ.get('job_type', '?')}"


def job_id(environ: dict) -> str:
    """The job's id: its ``job_id``, else sioworkersd's ``task_id``, else none."""
    return str(environ.get('job_id') or environ.get('task_id') or '-')


def task_options(environ: dict, req: Requirements | None = None) -> dict:
    """Ray ``.options()`` for the job described by ``environ``."""
    req = req or requirements(environ)
    options = {
        'name': task_name(environ),
        'num_cpus': req.cpus,
        'memory': int(req.memory_mib * _MIB),
    }
    # Only what Ray itself counts (CPUs, memory) goes into its resources, so
    # that any node can run a job that needs no more: a node started without
    # sio's tags is capacity too.  Capabilities are tags (labels, or a probe
    # of an untagged node: sio_ray.scheduling); an exclusive job gets a whole
    # node when it is placed.
    if req.isolated:
        options['label_selector'] = {tags.SANDBOX: 'true'}
    return options
