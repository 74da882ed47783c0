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
   hangs while the interactor already said ``WRONG`` is WA.
3. Without a verdict: an interactor that failed otherwise than by a time limit
   or ``SIGPIPE`` fails the job (``SE``); a solution that was stopped keeps its
   result; an interactor killed by ``SIGPIPE`` means the solution exited
   prematurely (WA); an interactor stopped by its time or wall-time limit is
   ``TLE`` ("user's solution or interactor can be the cause").  Anything else
   fails the job.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from sio.executors.batch import prepare_solution, run_prepared
from sio.executors.checker import parse_percentage
from sio.executors.files import fetch_input, open_output, upload_output
from sio.workers import ft
from sio.workers.executors import (ExecutionResult, IsolatedExecutor, UnprotectedExecutor,
                                   cap_result_string)
from sio.workers.util import tempcwd


class InteractorError(Exception):
    """The interactor failed: a system problem, not a verdict."""


#: The solution results an interactor's verdict may override: the solution
#: was stopped (or failed) after it may have answered.  Every other code (``RV``,
#: ``SE``, anything a supervisor may report in future) is a broken rule or a
#: failed box, and always wins.
OVERRIDABLE = frozenset({'OK', 'TLE', 'MLE', 'OLE', 'RE'})


def _aggregate(results: list[ExecutionResult]) -> ExecutionResult:
    """One result for all solution processes: the first that broke a rule, else
    the first that is not OK, else the first with the largest time and memory."""
    for result in results:
        if result.result_code not in OVERRIDABLE:
            return result
    for result in results:
        if result.result_code != 'OK':
            return result
    first = results[0]
    first.time_used = max(r.time_used for r in results)
    first.mem_used = max(r.mem_used for r in results)
    return first


def _killed_by_sigpipe(result: ExecutionResult) -> bool:
    return result.exit_signal == signal.SIGPIPE


def run(environ: dict, make_executor=IsolatedExecutor, make_interactor_executor=None) -> dict:
    """Run the solution processes against the interactor and give the verdict.

    ``make_executor`` makes the executors of the solutions,
    ``make_interactor_executor`` the interactor's (default: the same kind)."""
    make_interactor_executor = make_interactor_executor or make_executor
    if 'exec_time_limit' not in environ:
        raise KeyError("environ['exec_time_limit'] is required for interactive jobs")
    processes = environ.get('num_processes', 1)
    if isinstance(processes, bool) or not isinstance(processes, int) or not 1 <= processes <= 32:
        raise ValueError(f"environ['num_processes']: {processes!r} is not a number from 1 to 32")
    environ.setdefault('exec_info', {'mode': 'executable'})
    job_dir = Path(tempcwd())
    boxes, prepared = [], []
    for i in range(processes):
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

    time_limit = environ['exec_time_limit']
    interactor_limits = {
        'time_limit': environ.get('interactor_time_limit', 2 * time_limit),
        'mem_limit': environ.get('interactor_mem_limit', 262_144),
    }
    interactor_limits['real_time_limit'] = environ.get(
        'interactor_real_time_limit', 2 * interactor_limits['time_limit'])

    # pipes[i] = (to solution: read, write), (from solution: read, write)
    pipes = [(os.pipe(), os.pipe()) for _ in range(processes)]
    interactor_args = [str(processes)]
    interactor_fds = []
    for (to_r, to_w), (from_r, from_w) in pipes:
        interactor_args += [str(from_r), str(to_w)]
        interactor_fds += [from_r, to_w]

    results: list[ExecutionResult | None] = [None] * processes
    interactor_result: list[ExecutionResult] = []
    errors: list[BaseException] = []
    cancel = threading.Event()

    def solution(i: int) -> None:
        (to_r, _), (_, from_w) = pipes[i]
        try:
            results[i] = run_prepared(*prepared[i], make_executor(), boxes[i], stdin=to_r,
                                      stdout=from_w, fds_to_close=(to_r, from_w), cancel=cancel)
        except BaseException as exc:  # re-raised in the job's thread
            errors.append(exc)

    def run_interactor() -> None:
        try:
            with open(stdin_path, 'rb') as stdin, open_output(out) as stdout:
                interactor_result.append(make_interactor_executor()(
                    ['./soc', *interactor_args], cwd=interactor_box, stdin=stdin, stdout=stdout,
                    ignore_errors=True, pass_fds=tuple(interactor_fds),
                    fds_to_close=tuple(interactor_fds), environ=environ,
                    environ_prefix='interactor_', cancel=cancel, **interactor_limits))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=solution, args=(i,)) for i in range(processes)]
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

    solution_result = _aggregate(results)
    inter = interactor_result[0]
    _judge(environ, solution_result, inter, out)
    environ['result_string'] = cap_result_string(environ.get('result_string', ''))
    upload_output(environ, out)
    return environ


def _judge(environ: dict, sol: ExecutionResult, inter: ExecutionResult, out: Path) -> None:
    environ.update(time_used=sol.time_used, mem_used=sol.mem_used,
                   num_syscalls=sol.num_syscalls, time_measure=sol.time_measure,
                   limits_enforced_by=sol.limits_enforced_by)
    if inter.result_code not in OVERRIDABLE:
        environ.update(result_code='SE', result_string=inter.result_string,
                       result_percentage=[0, 1])
        raise InteractorError(f'interactor failed: {inter.result_code} ({inter.result_string})')
    if sol.result_code not in OVERRIDABLE:
        environ.update(result_code=sol.result_code, result_string=sol.result_string,
                       result_percentage=[0, 1])
        return
    lines = [line.rstrip() for line in out.read_bytes().decode('utf-8', 'replace').split('\n')]
    lines += ['', '', '']
    if lines[0]:
        ok = lines[0] == 'OK'
        environ.update(result_code='OK' if ok else 'WA', result_string=lines[1],
                       result_percentage=list(parse_percentage(lines[2]) if ok else (0, 1)))
        return
    environ['result_percentage'] = [0, 1]
    if inter.result_code not in ('OK', 'TLE') and not _killed_by_sigpipe(inter):
        environ.update(result_code='SE', result_string=inter.result_string)
        raise InteractorError(f'interactor failed: {inter.result_code} ({inter.result_string})')
    if sol.result_code != 'OK' and not _killed_by_sigpipe(sol):
        environ.update(result_code=sol.result_code, result_string=sol.result_string)
    elif _killed_by_sigpipe(inter):
        environ.update(result_code='WA', result_string='solution exited prematurely')
    elif inter.real_time_killed or inter.result_code == 'TLE':
        environ.update(result_code='TLE', result_string='interactor time limit exceeded '
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
