"""The interactive exec jobs: solutions talk to the jury's interactor through pipes.

``interactive-exec``, ``cpu-interactive-exec`` and ``sio2jail-interactive-exec``
run the solutions isolated; ``unsafe-interactive-exec`` unprotected.  The
interactor is jury code; it runs in the same kind of executor as the
solutions.

Keys read, beyond the exec jobs' ``exe_file``, ``in_file``, ``exec_*`` limits
(``exec_time_limit`` is required), ``out_file`` and ``upload_out``:
``interactor_file``, ``num_processes`` (default 1) and the interactor's limits
``interactor_time_limit`` (default twice ``exec_time_limit``),
``interactor_mem_limit`` (262 144 KiB), ``interactor_real_time_limit``
(default twice the interactor's time limit).  ``check_output`` is ignored:
the interactor's output decides.

Wiring: solution *i* runs with the argument ``i``, reads what the interactor
writes to it and writes what the interactor reads; the interactor gets the
arguments ``num_processes r_0 w_0 r_1 w_1 ...`` (descriptors for reading from
and writing to solution *i*), the test input on standard input, and writes
its verdict to standard output: line 1 ``OK`` or anything else (wrong), line
2 a message, line 3 a percentage.

Which verdict wins, in order:

1. A rule the box enforces was broken or the box itself failed: a solution
   whose result is ``RV`` (a forbidden system call) or ``SE`` (its supervisor
   failed), or any code other than ``OK``, ``TLE``, ``MLE``, ``OLE`` and
   ``RE``, keeps that result whatever the interactor said (upstream let an
   ``OK`` from the interactor hide it: a solution could answer, then break
   the rules).  An interactor that broke a rule or whose box failed fails the
   job: its verdict cannot be trusted.
2. A verdict from the interactor (line 1 not empty) overrides the solution's
   ``TLE``, ``MLE``, ``OLE`` and ``RE``: a solution stopped after it answered
   is judged by its answers, as upstream (OIOIOI relies on it), and one that
   hangs while the interactor already said ``WRONG`` is WA.  A solution that
   ended by itself measured over its time or memory limit (the address-space
   peak is known only at its end) keeps its ``TLE``/``MLE``.
3. Without a verdict: an interactor that failed otherwise than by a time limit
   or ``SIGPIPE`` fails the job (``SE``); a solution that was stopped keeps its
   result; an interactor killed by ``SIGPIPE`` means the solution exited
   prematurely (WA); an interactor stopped by its time or wall-time limit is
   ``TLE`` ("user's solution or interactor can be the cause").  Anything else
   fails the job.

**Limits**: the solutions' are the exec jobs' (:data:`sio.executors.batch.LIMITS`);
the interactor's (:data:`INTERACTOR_LIMITS`, keys ``interactor_*``) are
262 144 KiB of memory, :data:`INTERACTOR_TIME_FACTOR` times
``exec_time_limit`` of time and :data:`INTERACTOR_REAL_TIME_FACTOR` times its
time limit of wall-clock time.

**What the job needs from a node** (:func:`requirements`): the solutions
and the interactor run at once, so it reserves ``num_processes`` solution
boxes (each its memory limit plus its runtime's, as the exec jobs) plus the
interactor's memory limit, one CPU for each of them, and may take the longer
of the solutions' and the interactor's wall-clock limits, times the runs of
a borderline interaction.

**Borderline times** (:mod:`sio.executors.remeasure`, keys
``exec_remeasure_runs`` and ``exec_remeasure_band``, off for
``unsafe-interactive-exec``): an interaction whose solutions' time (the
largest of its processes') is within the band around ``exec_time_limit`` is
run again, whole, and judged by its fastest run; the result reports
``time_used_runs``, ``result_code_runs``, ``node_runs`` and
``outputs_differ_between_runs`` (the interactor's outputs compared).  A
repeat placed on another node by the back-end uploads no output.
``cpu-interactive-exec`` has its node to itself.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from sio.executors.batch import (PREFIX, is_isolated, prepare_solution, run_prepared,
                                 solution_memory_kib)
from sio.executors import remeasure, runners
from sio.executors.checker import parse_percentage
from sio.executors.files import fetch_input, open_output, upload_output
from sio.workers import ft, repeats
from sio.workers.executors import (BOX_DEFAULT_LIMITS, ExecutionResult, IsolatedExecutor, Limits,
                                   UnprotectedExecutor, cap_result_string,
                                   default_real_time_limit)
from sio.workers.requirements import Requirements, kib_to_mib, number
from sio.workers.results import MLE, OK, OLE, RE, SE, TLE, WA
from sio.workers.util import tempcwd
from sio.workers.wallbound import run_wall, seconds_text

#: The interactor's limits (``interactor_*`` keys) when the environ gives
#: none; its time limit is :data:`INTERACTOR_TIME_FACTOR` × ``exec_time_limit``
#: and its wall-clock limit :data:`INTERACTOR_REAL_TIME_FACTOR` × its time limit.
INTERACTOR_LIMITS = Limits(mem_limit=256 << 10)
INTERACTOR_TIME_FACTOR = 2
INTERACTOR_REAL_TIME_FACTOR = 2
#: The keys of :data:`INTERACTOR_LIMITS` in the environ.
INTERACTOR_PREFIX = 'interactor_'
#: Most solution processes of one job.
MAX_PROCESSES = 32
#: Job types measured on wall time, which run alone on their node.
EXCLUSIVE = frozenset({'cpu-interactive-exec'})


class InteractorError(Exception):
    """The interactor failed: a system problem, not a verdict."""


#: The solution results an interactor's verdict may override: the solution
#: was stopped (or failed) after it may have answered.  Every other code (``RV``,
#: ``SE``, anything a supervisor may report in future) is a broken rule or a
#: failed box, and always wins.
OVERRIDABLE = frozenset({OK, TLE, MLE, OLE, RE})


def processes(environ: dict) -> int:
    """``num_processes`` (default 1); anything but a number from 1 to
    :data:`MAX_PROCESSES` raises :class:`ValueError` naming the key."""
    value = environ.get('num_processes', 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PROCESSES:
        raise ValueError(f"environ['num_processes']: {value!r} is not a number from 1 to "
                         f'{MAX_PROCESSES}')
    return value


def interactor_limits(environ: dict) -> Limits:
    """The interactor's limits: the environ's ``interactor_*`` keys over
    :data:`INTERACTOR_LIMITS` and the time limits derived from ``exec_time_limit``."""
    time_limit = number(environ, 'exec_time_limit')
    table = INTERACTOR_LIMITS
    if time_limit is not None:
        table = Limits(INTERACTOR_TIME_FACTOR * time_limit, None, table.mem_limit,
                       table.output_limit)
    limits = Limits.resolve(table, environ, INTERACTOR_PREFIX)
    if INTERACTOR_PREFIX + 'real_time_limit' not in environ and limits.time_limit is not None:
        limits = Limits(limits.time_limit, INTERACTOR_REAL_TIME_FACTOR * limits.time_limit,
                        limits.mem_limit, limits.output_limit)
    return limits


def _interactor_wall(environ: dict, isolated: bool) -> tuple[float, str] | None:
    limits = interactor_limits(environ)
    if limits.real_time_limit:
        return limits.real_time_limit, \
            f'interactor {seconds_text(limits.real_time_limit / 1000)} s'
    time_limit = limits.time_limit or (BOX_DEFAULT_LIMITS.time_limit if isolated else None)
    ms = default_real_time_limit(time_limit, isolated)
    return None if ms is None else (ms, f'interactor {seconds_text(ms / 1000)} s')


def requirements(environ: dict, base: Requirements) -> Requirements:
    """The ``sio.workers.requirements`` hook of the interactive jobs (see the module docs)."""
    job_type = str(environ.get('job_type', ''))
    isolated = is_isolated(job_type)
    count = processes(environ)
    interactor = interactor_limits(environ).mem_limit or INTERACTOR_LIMITS.mem_limit
    memory = count * solution_memory_kib(environ, isolated) + interactor
    solutions = run_wall(environ, PREFIX, 'solutions', isolated=isolated)
    inter = _interactor_wall(environ, isolated)
    more = remeasure.policy(environ, isolated).runs  # a borderline interaction is repeated
    wall_ms, wall_from = None, ()
    if solutions is not None and inter is not None:
        longer = max(solutions, inter)
        wall_ms = longer[0] * (1 + more)
        wall_from = (f'the longer of {solutions[1]} and {inter[1]}, run at once',)
        if more:
            wall_from = (f'{1 + more} runs at most of: {wall_from[0]}',)
    return base.replace(isolated=isolated, exclusive=job_type in EXCLUSIVE,
                        memory_mib=kib_to_mib(memory), cpus=1.0 + count,
                        wall_ms=wall_ms, wall_from=wall_from,
                        runtimes=runners.runtimes(environ), repeats=more)


def _aggregate(results: list[ExecutionResult]) -> ExecutionResult:
    """One result for all solution processes: the first that broke a rule, else
    the first that is not OK, else the first with the largest time and memory."""
    for result in results:
        if result.result_code not in OVERRIDABLE:
            return result
    for result in results:
        if result.result_code != OK:
            return result
    first = results[0]
    first.time_used = max(r.time_used for r in results)
    first.mem_used = max(r.mem_used for r in results)
    return first


def _over_limit_on_its_own(result: ExecutionResult) -> bool:
    """A solution measured over its time or memory limit that ended by itself
    (not stopped after it may have answered): no verdict of the interactor
    excuses that."""
    return result.result_code in ('TLE', 'MLE') and result.exit_signal is None \
        and not result.real_time_killed


def _killed_by_sigpipe(result: ExecutionResult) -> bool:
    return result.exit_signal == signal.SIGPIPE


def run(environ: dict, make_executor=IsolatedExecutor, make_interactor_executor=None) -> dict:
    """Run the solution processes against the interactor and give the verdict.

    ``make_executor`` makes the executors of the solutions,
    ``make_interactor_executor`` the interactor's (default: the same kind)."""
    make_interactor_executor = make_interactor_executor or make_executor
    if 'exec_time_limit' not in environ:
        raise KeyError("environ['exec_time_limit'] is required for interactive jobs")
    count = processes(environ)
    environ.setdefault('exec_info', {'mode': 'executable'})
    job_dir = Path(tempcwd())
    boxes, prepared = [], []
    for i in range(count):
        box = job_dir / f'solution{i}'
        box.mkdir()
        boxes.append(box)
        prepared.append(prepare_solution({**environ, 'extra_execution_args': [str(i)]},
                                         make_executor(), box))
    interactor_box = job_dir / 'interactor'
    interactor_box.mkdir()
    interactor = interactor_box / 'soc'
    ft.download(environ, 'interactor_file', str(interactor), add_to_cache=True)
    interactor.chmod(0o755)
    stdin_path = fetch_input(environ, job_dir)
    out = job_dir / 'out'

    limits = interactor_limits(environ)
    again = remeasure.policy(environ, make_executor().isolated)

    def interact(output: Path) -> tuple[ExecutionResult, ExecutionResult]:
        """One interaction: the solutions' result (:func:`_aggregate`) and the
        interactor's, whose output goes to ``output``."""
        # pipes[i] = (to solution: read, write), (from solution: read, write)
        pipes = [(os.pipe(), os.pipe()) for _ in range(count)]
        interactor_args = [str(count)]
        interactor_fds = []
        for (to_r, to_w), (from_r, from_w) in pipes:
            interactor_args += [str(from_r), str(to_w)]
            interactor_fds += [from_r, to_w]

        results: list[ExecutionResult | None] = [None] * count
        interactor_result: list[ExecutionResult] = []
        errors: list[BaseException] = []
        cancel = threading.Event()

        def solution(i: int) -> None:
            (to_r, _), (_, from_w) = pipes[i]
            try:
                results[i] = run_prepared(*prepared[i], make_executor(), boxes[i], stdin=to_r,
                                          stdout=from_w, fds_to_close=(to_r, from_w),
                                          cancel=cancel)
            except BaseException as exc:  # re-raised in the job's thread
                errors.append(exc)

        def run_interactor() -> None:
            try:
                with open(stdin_path, 'rb') as stdin, open_output(output) as stdout:
                    interactor_result.append(make_interactor_executor()(
                        ['./soc', *interactor_args], cwd=interactor_box, stdin=stdin,
                        stdout=stdout, ignore_errors=True, pass_fds=tuple(interactor_fds),
                        fds_to_close=tuple(interactor_fds), cancel=cancel, **vars(limits)))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=solution, args=(i,)) for i in range(count)]
        threads.append(threading.Thread(target=run_interactor))
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():  # in slices: a cancelled job is interrupted between them
                    t.join(0.2)
        except BaseException:
            cancel.set()  # stop every box of the job before giving up on it
            for t in threads:
                t.join(10)
            raise
        if errors:
            raise errors[0]
        return _aggregate(results), interactor_result[0]

    # A borderline time: the whole interaction again (sio.executors.remeasure).
    (solution_result, inter), measurements = remeasure.measure(
        interact(out), out, prepared[0][1], again, interact, measured=lambda run: run[0])
    for key in remeasure.KEYS:
        environ.pop(key, None)
    environ.update(measurements)
    judge(environ, solution_result, inter, out.read_bytes())
    environ['result_string'] = cap_result_string(environ.get('result_string', ''))
    if not environ.get(repeats.REPEAT):  # a repeat on another node keeps its output
        upload_output(environ, out)
    return environ


def judge(environ: dict, sol: ExecutionResult, inter: ExecutionResult, output: bytes) -> None:
    """The verdict (see the module docs) from the solutions' result ``sol``,
    the interactor's ``inter`` and what it wrote, ``output``, into
    ``environ``; an interactor that failed raises :class:`InteractorError`
    (the environ then says ``SE``)."""
    environ.update(time_used=sol.time_used, mem_used=sol.mem_used,
                   num_syscalls=sol.num_syscalls, time_measure=sol.time_measure,
                   limits_enforced_by=sol.limits_enforced_by)
    if inter.result_code not in OVERRIDABLE:
        environ.update(result_code=SE, result_string=inter.result_string,
                       result_percentage=[0, 1])
        raise InteractorError(f'interactor failed: {inter.result_code} ({inter.result_string})')
    if sol.result_code not in OVERRIDABLE or _over_limit_on_its_own(sol):
        environ.update(result_code=sol.result_code, result_string=sol.result_string,
                       result_percentage=[0, 1])
        return
    lines = [line.rstrip() for line in output.decode('utf-8', 'replace').split('\n')]
    lines += ['', '', '']
    if lines[0]:
        ok = lines[0] == 'OK'  # the protocol's word
        environ.update(result_code=OK if ok else WA, result_string=lines[1],
                       result_percentage=list(parse_percentage(lines[2]) if ok else (0, 1)))
        return
    environ['result_percentage'] = [0, 1]
    if inter.result_code not in (OK, TLE) and not _killed_by_sigpipe(inter):
        environ.update(result_code=SE, result_string=inter.result_string)
        raise InteractorError(f'interactor failed: {inter.result_code} ({inter.result_string})')
    if sol.result_code != OK and not _killed_by_sigpipe(sol):
        environ.update(result_code=sol.result_code, result_string=sol.result_string)
    elif _killed_by_sigpipe(inter):
        environ.update(result_code=WA, result_string='solution exited prematurely')
    elif inter.real_time_killed or inter.result_code == TLE:
        environ.update(result_code=TLE, result_string='interactor time limit exceeded '
                       "(user's solution or interactor can be the cause)")
    else:
        raise InteractorError('Unexpected interactor error: it wrote no verdict')


def run_isolated(environ: dict) -> dict:
    """``interactive-exec`` and ``cpu-interactive-exec``."""
    return run(environ, IsolatedExecutor)


def run_sio2jail(environ: dict) -> dict:
    """``sio2jail-interactive-exec``: solutions measured in instructions where possible."""
    return run(environ, lambda: IsolatedExecutor(time_measure='instructions'))


def run_unsafe(environ: dict) -> dict:
    """``unsafe-interactive-exec``."""
    return run(environ, UnprotectedExecutor)
