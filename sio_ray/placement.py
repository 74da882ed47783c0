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
    selector = {tags.SANDBOX: 'true'} if req.isolated else {}
    runtimes = req.runtimes
    if runtimes and req.toolchain_sandbox and toolchain_fetchable(environ, req.toolchain_sandbox):
        runtimes = ()  # the compiler's own toolchain comes with the job: any box will do
    for runtime in runtimes:
        selector[tags.runtime_label(runtime)] = 'true'
    if selector:
        options['label_selector'] = selector
    return options


#: Seconds an answer of :func:`toolchain_fetchable` is kept.
FETCHABLE_TTL = 60.0
_fetchable: dict[tuple[str | None, str], tuple[bool, float]] = {}


def toolchain_fetchable(environ: dict, sandbox: str) -> bool:
    """Whether the named toolchain sandbox ``sandbox`` can be fetched by the
    job's nodes: from its filetracker server, or ``$SIO_SANDBOXES_URL`` (one
    ``HEAD``, the answer kept for :data:`FETCHABLE_TTL` seconds)."""
    import time

    import requests

    from sio.workers import settings
    from sio.workers.filetracker import protocol
    from sio.workers.sandbox import ft_path
    url = environ.get('filetracker_url') or settings.FILETRACKER_URL.get()
    url = url if isinstance(url, str) and url else None
    key = (url, sandbox)
    known, when = _fetchable.get(key, (False, -FETCHABLE_TTL))
    if time.monotonic() - when < FETCHABLE_TTL:
        return known
    places = [protocol.file_url(url, ft_path(sandbox))] if url else []
    if settings.SANDBOXES_URL.get():
        places.append(f"{settings.SANDBOXES_URL.get().rstrip('/')}/{sandbox}.tar.gz")
    found = False
    for place in places:
        try:
            found = requests.head(place, timeout=5, allow_redirects=True).status_code == 200
        except requests.RequestException:
            found = False
        if found:
            break
    _fetchable[key] = (found, time.monotonic())
    return found
