"""What a job needs from a node, as the job itself declares it.

:func:`requirements` is what a scheduler (``sio_ray``) asks before placing a
job (and before admitting a group: the same numbers).  The core knows no job:
every job type declares its needs with an entry point in group
``sio.workers.requirements`` named after the job type, beside its ``sio.jobs``
entry — a function ``hook(environ, base) -> Requirements`` that receives the
job-agnostic default (:func:`default_requirements`) and returns its own.  The
project's jobs do exactly this, from the limits table of each job's module.

A job type without a hook gets the default: ``<job_type>_mem_limit`` (KiB)
or 256 MiB of memory (as upstream's scheduler for job types it did not know),
one CPU, no isolated sandbox, a node shared with others, and no wall-clock
bound of its own (:mod:`sio.workers.wallbound` then applies the default one).

What a job's memory reservation covers: every run that may be alive at once
(summed), the largest of those that follow one another (max, not sum), each
as the memory limit its box enforces — which also holds the box's own
``/box`` tmpfs, charged to the run's memory cgroup (see
:mod:`sio.workers.isolation.box`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from sio.workers import plugins

__all__ = ['Requirements', 'requirements', 'default_requirements', 'runs_no_program',
           'number', 'kib_to_mib', 'DEFAULT_MEMORY_MIB']

_KIB_PER_MIB = 1024  # memory limits in environs are in KiB
#: Memory (MiB) of a job type whose environ and hook say nothing (upstream's
#: scheduler's value for "anything else").
DEFAULT_MEMORY_MIB = 256
#: Memory (MiB) of a job that runs no program (``ping``, ``ft-check``): the
#: worker's own process does the work.
NO_PROGRAM_MEMORY_MIB = 1


@dataclass(frozen=True)
class Requirements:
    """Resources and capabilities a job needs from the node that runs it."""

    #: Needs the isolated sandbox (namespaces + seccomp) on its node.
    isolated: bool = False
    #: Must run alone on its node (wall-time-measured judging).
    exclusive: bool = False
    #: Memory to reserve, in MiB.
    memory_mib: float = DEFAULT_MEMORY_MIB
    #: CPUs the job keeps busy.
    cpus: float = 1.0
    #: What the job's runs may take by their wall-clock limits, in ms (0 for a
    #: job that runs no program); None when its limits give no bound.
    wall_ms: float | None = None
    #: How ``wall_ms`` follows from the environ, e.g.
    #: ``('program 3 s (2×exec_time_limit 1000 ms + 1 s)',)``.
    wall_from: tuple[str, ...] = ()
    #: Language toolchains the node must have (:data:`sio.workers.toolchains.RUNTIMES`),
    #: e.g. ``('java',)`` for a Java compile or a jar to run.
    runtimes: tuple[str, ...] = ()
    #: The named toolchain sandbox that serves instead of the node's own
    #: toolchain, where it can be fetched (a versioned compiler's).
    toolchain_sandbox: str | None = None
    #: How the job's verdict depends on the node's clock: None (it does not),
    #: ``'cpu'`` (its measured CPU time is judged: it avoids nodes much slower
    #: or noisier than the cluster's, as calibrated), ``'instructions'``
    #: (instructions are counted where a node has counters, preferred; else
    #: as ``'cpu'``).
    timing: str | None = None
    #: More runs of a borderline measurement the job may make (0: none;
    #: :mod:`sio.workers.repeats`): a back-end that can place them on other
    #: nodes offers it with ``remeasure_elsewhere``.
    repeats: int = 0

    def replace(self, **changes) -> 'Requirements':
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


def number(environ: dict, key: str, what: str = 'non-negative number') -> float | None:
    """``environ[key]`` when it is a non-negative finite number, None when
    missing; anything else raises :class:`ValueError` naming the key."""
    value = environ.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value) or value < 0):
        raise ValueError(f'environ[{key!r}]: {value!r} is not a {what}')
    return value


def kib_to_mib(kib: float) -> float:
    """KiB (the unit of memory limits in environs) to MiB (of :class:`Requirements`)."""
    return kib / _KIB_PER_MIB


def _memory_mib(environ: dict, default_mib: float) -> float:
    key = f"{environ.get('job_type', '')}_mem_limit"
    value = number(environ, key, 'non-negative number of KiB')
    return default_mib if value is None else kib_to_mib(value)


def default_requirements(environ: dict) -> Requirements:
    """The job-agnostic default: ``<job_type>_mem_limit`` or 256 MiB, one CPU,
    nothing else (what a job type without a hook gets)."""
    return Requirements(memory_mib=float(_memory_mib(environ, DEFAULT_MEMORY_MIB)))


def runs_no_program(environ: dict, base: Requirements) -> Requirements:
    """A hook for jobs that run no program (``ping``, ``ft-check``): 1 MiB
    (``<job_type>_mem_limit`` if given) and no wall-clock time of their own."""
    return base.replace(memory_mib=float(_memory_mib(environ, NO_PROGRAM_MEMORY_MIB)),
                        wall_ms=0, wall_from=())


def requirements(environ: dict) -> Requirements:
    """What the job described by ``environ`` needs from a node: its hook's
    answer, else :func:`default_requirements`.

    Limits in the environ must be numbers; a bad value raises
    :class:`ValueError` naming the key.
    """
    base = default_requirements(environ)
    # Most third-party job types have no hook: no rescan of the installed packages per job.
    hook = plugins.find(plugins.REQUIREMENTS, str(environ.get('job_type', '')), rescan=False)
    if hook is None:
        return base
    result = hook(environ, base)
    if not isinstance(result, Requirements):
        raise TypeError(f'requirements hook for {environ.get("job_type")!r} returned '
                        f'{type(result).__name__}, not Requirements')
    return result
