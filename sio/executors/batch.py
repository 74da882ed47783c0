"""The batch exec jobs: run a program on one test, then check its output.

``exec``, ``cpu-exec`` and ``sio2jail-exec`` run the program in the isolated
executor; ``unsafe-exec`` runs it unprotected.  (``cpu-exec`` differs only in
scheduling: it has its node to itself.  ``sio2jail-exec`` would count
instructions where the node has a hardware PMU; elsewhere it measures CPU
time, and ``time_measure`` in the result says which.)

Keys read: ``exe_file``, ``in_file``, ``exec_info`` (``mode``:
``executable``, ``java`` or ``output-only``; see :mod:`sio.executors.runners`), ``exec_time_limit`` (ms of CPU time),
``exec_real_time_limit`` (ms), ``exec_mem_limit`` (KiB), ``exec_output_limit``
(bytes), ``extra_execution_files``, ``extra_execution_args``,
``check_output``, ``hint_file``, ``chk_file``, ``checker_protocol``,
``checker_format``, ``untrusted_checker``, ``checker_*_limit``,
``out_file``, ``upload_out``, ``exec_remeasure_runs``, ``exec_remeasure_band``
(borderline times measured again: :mod:`sio.executors.remeasure`).

Keys written: ``result_code``, ``result_string``, ``result_percentage``
(``[num, den]``), ``time_used``, ``mem_used``, ``num_syscalls`` (always 0, as
upstream), ``time_measure``, ``limits_enforced_by``, ``exec_info``, ``out_file``,
and after a borderline run ``time_used_runs``, ``result_code_runs``,
``node_runs``, ``outputs_differ_between_runs``.  A repeat placed on another
node by the back-end (:mod:`sio.workers.repeats`) uploads no output: the
stored output is the first run's.

**Limits** (:data:`LIMITS`, keys ``exec_*``): in a box, upstream's jailed
defaults — 30 000 ms of CPU time, 65 536 KiB, 52 428 800 bytes of output,
a wall-clock limit of twice the time limit plus a second; unprotected, none
but what the environ gives (the wall-clock limit is then twice the time
limit).  A language's runtime adds to the memory limit of the box
(:data:`sio.executors.runners.RUNTIME_MEMORY_KIB`: 256 MiB for a JVM).

**What the job needs from a node** (:func:`requirements`): the isolated
sandbox (``unsafe-exec``: only for an untrusted checker), ``cpu-exec`` a node
of its own; ``cpu-exec`` and ``sio2jail-exec`` a steady one (their ``timing``:
:mod:`sio_ray.calibration`); memory for the program's box — its memory limit (64 MiB if none,
also unprotected, as upstream's scheduler) plus its runtime's — or, when the
checker's limit is larger, for the checker, which runs after it (the larger,
not the sum; :func:`sio.executors.checker.reserved_kib`).  Its runs may take
the program's wall-clock limit plus the checker's (``output-only`` runs no
program).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sio.executors import checker, remeasure, runners
from sio.executors.checker import check_output
from sio.executors.files import fetch_input, open_output, upload_output
from sio.workers import ft, repeats
from sio.workers.executors import (BOX_DEFAULT_LIMITS, ExecutionResult, IsolatedExecutor, Limits,
                                   UnprotectedExecutor, cap_result_string)
from sio.workers.isolation.box import MEMORY_MODES
from sio.workers.requirements import Requirements, kib_to_mib
from sio.workers.results import OK
from sio.workers.util import tempcwd
from sio.workers.wallbound import run_wall

#: The solution's limits (``exec_*`` keys) when the environ gives none: in a
#: box, upstream's jailed defaults; unprotected, none.
LIMITS = {'isolated': BOX_DEFAULT_LIMITS, 'unprotected': Limits()}
#: The keys of :data:`LIMITS` in the environ.
PREFIX = 'exec_'
#: Job types measured on wall time, which run alone on their node.
EXCLUSIVE = frozenset({'cpu-exec'})
#: Job types whose verdicts depend on the node's clock, and how
#: (:attr:`~sio.workers.requirements.Requirements.timing`).
TIMING = {'cpu-exec': 'cpu', 'sio2jail-exec': 'instructions'}


def is_isolated(job_type: str) -> bool:
    """Whether the solutions of ``job_type`` (``exec`` or interactive) run in a box."""
    return not job_type.startswith('unsafe-')


def solution_limits(environ: dict, isolated: bool) -> Limits:
    """The solution's limits: the environ's ``exec_*`` keys over :data:`LIMITS`."""
    return Limits.resolve(LIMITS['isolated' if isolated else 'unprotected'], environ, PREFIX)


def solution_memory_kib(environ: dict, isolated: bool) -> int:
    """The memory (KiB) of one solution's box: its memory limit (a box's
    default when it has none, also unprotected, as upstream's scheduler)
    plus its runtime's."""
    memory = solution_limits(environ, isolated).mem_limit or BOX_DEFAULT_LIMITS.mem_limit
    return memory + runners.runtime_memory_kib(environ)


def _is_output_only(environ: dict) -> bool:
    info = environ.get('exec_info')
    return isinstance(info, dict) and info.get('mode') == 'output-only'


def requirements(environ: dict, base: Requirements) -> Requirements:
    """The ``sio.workers.requirements`` hook of the exec jobs (see the module docs)."""
    job_type = str(environ.get('job_type', ''))
    isolated = is_isolated(job_type)
    memory = max(solution_memory_kib(environ, isolated), checker.reserved_kib(environ))
    parts, more = [], 0
    if not _is_output_only(environ):
        wall = run_wall(environ, PREFIX, 'program', isolated=isolated)
        more = remeasure.policy(environ, isolated).runs  # a borderline run is repeated
        runs = 1 + more
        if wall is not None and runs > 1:
            wall = (wall[0] * runs, f'{runs} runs at most of: {wall[1]}')
        parts.append(wall)
    checking = checker.wall(environ)
    if checking != (0, ''):
        parts.append(checking)
    if any(part is None for part in parts):
        wall_ms, wall_from = None, ()
    else:
        wall_ms, wall_from = sum(ms for ms, _ in parts), tuple(text for _, text in parts)
    base = base.replace(timing=TIMING.get(job_type))  # placed on calibrated, steady nodes
    return base.replace(runtimes=runners.runtimes(environ),
                        isolated=isolated or checker.needs_sandbox(environ),
                        exclusive=job_type in EXCLUSIVE, memory_mib=kib_to_mib(memory),
                        cpus=1.0, wall_ms=wall_ms, wall_from=wall_from, repeats=more)


def prepare_solution(environ: dict, executor, box: Path) -> tuple[runners.Program, Limits]:
    """Download ``exe_file`` into ``box`` by its ``exec_info`` mode; return how
    to run it and the ``exec_`` limits of the environ (memory widened for the
    language's runtime)."""
    limits = solution_limits(environ, executor.isolated)
    memory = limits.mem_limit or executor.default_limits.mem_limit
    mode = environ.get('exec_memory_mode')
    if mode is not None and mode not in MEMORY_MODES:
        raise ValueError(f"environ['exec_memory_mode']: {mode!r} is not one of "
                         f"{', '.join(MEMORY_MODES)}")
    program = runners.prepare(environ, box, memory)
    if program.memory_mode is None:
        program.memory_mode = mode
    box_memory = memory + program.extra_memory_kib if memory else None
    return program, Limits(limits.time_limit, limits.real_time_limit, box_memory,
                           limits.output_limit)


def run_prepared(program: runners.Program, limits: Limits, executor, box: Path,
                 **streams) -> ExecutionResult:
    """Run a prepared solution (``streams``: stdin, stdout, fds_to_close...)."""
    with tempfile.TemporaryFile() as stderr:
        result = executor(
            program.argv, cwd=box, stderr=stderr, ignore_errors=True,
            time_limit=limits.time_limit, real_time_limit=limits.real_time_limit,
            mem_limit=limits.mem_limit, output_limit=limits.output_limit,
            view=program.view, memory_mode=program.memory_mode, **streams)
        stderr.seek(0)
        return program.adjust(result, stderr.read(runners.STDERR_LIMIT))


def _run_program(environ: dict, executor, job_dir: Path, out: Path) -> None:
    box = job_dir / 'box'
    box.mkdir()
    stdin_path = fetch_input(environ, job_dir)
    program, limits = prepare_solution(environ, executor, box)
    again = remeasure.policy(environ, executor.isolated)

    def run_once(output: Path) -> ExecutionResult:
        with open(stdin_path, 'rb') as stdin, open_output(output) as stdout:
            return run_prepared(program, limits, executor, box, stdin=stdin, stdout=stdout)

    result, measurements = remeasure.measure(run_once(out), out, limits, again, run_once)
    for key in remeasure.KEYS:
        environ.pop(key, None)
    environ.update(measurements)
    environ.update(
        result_code=result.result_code, result_string=result.result_string,
        time_used=result.time_used, mem_used=result.mem_used,
        num_syscalls=result.num_syscalls, time_measure=result.time_measure,
        memory_mode=result.memory_mode, limits_enforced_by=result.limits_enforced_by)


def run(environ: dict, executor=None) -> dict:
    """Run ``exe_file`` on ``in_file`` and judge it (see the module docs)."""
    executor = executor or IsolatedExecutor()
    environ.setdefault('exec_info', {'mode': 'executable'})
    if not isinstance(environ['exec_info'], dict):
        raise ValueError(f"environ['exec_info']: {environ['exec_info']!r} is not a dict")
    job_dir = Path(tempcwd())
    out = job_dir / 'out'
    environ['result_percentage'] = [0, 1]
    for stale in ('result_code', 'result_string', 'time_used', 'mem_used'):
        environ.pop(stale, None)
    if environ['exec_info'].get('mode') == 'output-only':
        # The "program" is the contestant's output itself.
        ft.download(environ, 'exe_file', str(out))
        environ.update(result_code=OK, result_string='ok', time_used=0, mem_used=0,
                       num_syscalls=0)
        environ.setdefault('out_file', environ['exe_file'])
    else:
        _run_program(environ, executor, job_dir, out)
    if environ['result_code'] == OK and environ.get('check_output'):
        check_output(environ, out, job_dir)
    environ['result_string'] = cap_result_string(environ.get('result_string', ''))
    if not environ.get(repeats.REPEAT):  # a repeat on another node keeps its output
        upload_output(environ, out)
    shutil.rmtree(job_dir / 'box', ignore_errors=True)
    return environ


def run_exec(environ: dict) -> dict:
    """The ``exec`` and ``cpu-exec`` jobs (isolated executor)."""
    return run(environ, IsolatedExecutor())


def run_sio2jail_exec(environ: dict) -> dict:
    """The ``sio2jail-exec`` job (isolated; instructions where the node has a PMU, else CPU time)."""
    return run(environ, IsolatedExecutor(time_measure='instructions'))


def run_unsafe_exec(environ: dict) -> dict:
    """The ``unsafe-exec`` job (unprotected executor: trusted programs only)."""
    return run(environ, UnprotectedExecutor())
