"""From what a job needs (:func:`sio.workers.requirements.requirements`) to Ray
task options, and whether any node can ever give it."""

from __future__ import annotations

import uuid

from sio.workers.requirements import Requirements, requirements
from sio_ray import tags

_MIB = 1 << 20


def task_name(environ: dict) -> str:
    """``sio:<job_type>:<job id>``, as the dashboard's task list shows it."""
    job_id = environ.get('job_id') or environ.get('task_id') or uuid.uuid4().hex[:12]
    return f"sio:{environ.get('job_type', '?')}:{job_id}"


def task_options(environ: dict, req: Requirements | None = None) -> dict:
    """Ray ``.options()`` for the job described by ``environ``."""
    req = req or requirements(environ)
    options = {
        'name': task_name(environ),
        'num_cpus': req.cpus,
        'memory': int(req.memory_mib * _MIB),
        'resources': {tags.NODE_SLOT: 1.0 if req.exclusive else tags.ORDINARY_SLOT},
    }
    if req.isolated:
        options['label_selector'] = {tags.SANDBOX: 'true'}
    return options


def has_labels(node: dict, selector: dict) -> bool:
    """Whether a node of ``ray.nodes()`` carries every ``label: value`` of ``selector``."""
    labels = node.get('Labels') or {}
    return all(labels.get(key) == value for key, value in selector.items())


def fit_cpus(options: dict, nodes: list[dict]) -> dict:
    """Ask for no more CPUs than the largest alive node has (an interactive job
    with many processes still runs, sharing the node's cores)."""
    largest = max((n.get('Resources', {}).get('CPU', 0) for n in nodes if n.get('Alive')),
                  default=0)
    if largest and options.get('num_cpus', 1) > largest:
        return {**options, 'num_cpus': largest}
    return options


def missing_capability(options: dict, nodes: list[dict]) -> str | None:
    """Why no alive node can ever run a task with ``options``, or None if one can."""
    alive = [n for n in nodes if n.get('Alive')]
    if not alive:
        return 'no alive Ray node'
    wanted_labels = options.get('label_selector') or {}
    labelled = [n for n in alive if has_labels(n, wanted_labels)]
    if not labelled:
        wanted = ', '.join(f'{k}={v}' for k, v in wanted_labels.items())
        return (f'no node with {wanted} (isolated sandbox unavailable; nodes get their tags '
                'from `sio-ray node-args` at `ray start`, or from sio_ray.connect() starting '
                'a local Ray)')
    needs = {'CPU': options.get('num_cpus', 1), 'memory': options.get('memory', 0),
             **options.get('resources', {})}
    for node in labelled:
        total = node.get('Resources') or {}
        if all(total.get(name, 0) >= amount for name, amount in needs.items()):
            return None
    short = ', '.join(f'{name} {amount:g}' for name, amount in needs.items())
    return f'no node has the resources this job needs ({short})'
