"""What a job needs from a node, derived from its environ in one place.

:func:`requirements` is what a scheduler (``sio_ray``) asks before placing a
job; it knows no job internals beyond these rules.  A plugin declares the needs
of its own job type with an entry point in group ``sio.workers.requirements``
named after the job type: a function ``hook(environ, base) -> Requirements``
that receives the default requirements and returns adjusted ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sio.workers import plugins

_MIB = 1024  # KiB per MiB: memory limits in environs are in KiB

#: Default memory limit (MiB) of ``<job_type>_mem_limit`` for non-exec jobs.
DEFAULT_MEMORY_MIB = {'ping': 1, 'ft-check': 1, 'ingen': 256, 'inwer': 256, 'compile': 512}
#: The memory-limit key each non-exec job actually reads (upstream's
#: scheduler read ``compile_mem_limit``, which the compile job never reads).
MEMORY_KEY = {'compile': 'compilation_mem_limit'}
EXEC_MEMORY_MIB = 64
CHECKER_MEMORY_MIB = 256
OTHER_MEMORY_MIB = 256

#: Job types measured on wall time that must run alone on their node.
EXCLUSIVE_JOBS = frozenset({'cpu-exec', 'cpu-interactive-exec'})


@dataclass(frozen=True)
class Requirements:
    """Resources and capabilities a job needs from the node that runs it."""

    #: Needs the isolated sandbox (namespaces + seccomp) on its node.
    isolated: bool = False
    #: Must run alone on its node (wall-time-measured judging).
    exclusive: bool = False
    #: Memory to reserve, in MiB.
    memory_mib: float = OTHER_MEMORY_MIB
    #: CPUs the job keeps busy.
    cpus: float = 1.0

    def replace(self, **changes) -> 'Requirements':
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


def _number(environ: dict, key: str, what: str) -> float | None:
    value = environ.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or value < 0):
        raise ValueError(f'environ[{key!r}]: {value!r} is not a {what}')
    return value


def _kib_to_mib(environ: dict, key: str, default_mib: float) -> float:
    value = _number(environ, key, 'non-negative number of KiB')
    return default_mib if value is None else value / _MIB


def _is_isolated(job_type: str, environ: dict) -> bool:
    if job_type.endswith('exec'):
        if not job_type.startswith('unsafe-'):
            return True
        # unsafe-* runs the solution unprotected, but an untrusted checker is
        # still run isolated.
        return bool(environ.get('check_output') and environ.get('untrusted_checker'))
    if job_type == 'compile':
        return True
    if job_type in ('ingen', 'inwer'):
        return bool(environ.get('use_sandboxes', True))
    return False


def default_requirements(environ: dict) -> Requirements:
    """The built-in rules (upstream ``get_required_ram_for_job``, plus isolation
    and exclusivity), without plugin hooks."""
    job_type = str(environ.get('job_type', ''))
    if job_type.endswith('exec'):
        memory = _kib_to_mib(environ, 'exec_mem_limit', EXEC_MEMORY_MIB)
        if environ.get('check_output'):
            memory = max(memory, _kib_to_mib(environ, 'checker_mem_limit', CHECKER_MEMORY_MIB))
    else:
        key = MEMORY_KEY.get(job_type, f'{job_type}_mem_limit')
        memory = _kib_to_mib(environ, key, DEFAULT_MEMORY_MIB.get(job_type, OTHER_MEMORY_MIB))
    cpus = 1.0
    if job_type.endswith('interactive-exec'):
        cpus += _number(environ, 'num_processes', 'non-negative process count') or 1
    return Requirements(
        isolated=_is_isolated(job_type, environ),
        exclusive=job_type in EXCLUSIVE_JOBS,
        memory_mib=float(memory),
        cpus=cpus,
    )


def requirements(environ: dict) -> Requirements:
    """What the job described by ``environ`` needs from a node.

    Memory limits in the environ are KiB and must be numbers; a bad value
    raises :class:`ValueError` naming the key.
    """
    base = default_requirements(environ)
    # Most job types have no hook: no rescan of the installed packages per job.
    hook = plugins.find(plugins.REQUIREMENTS, str(environ.get('job_type', '')), rescan=False)
    if hook is None:
        return base
    result = hook(environ, base)
    if not isinstance(result, Requirements):
        raise TypeError(f'requirements hook for {environ.get("job_type")!r} returned '
                        f'{type(result).__name__}, not Requirements')
    return result
