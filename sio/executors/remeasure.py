"""Borderline times measured again, as careful judges do by hand.

A node's CPU time of one program varies from run to run (20–27 % on this
project's virtual machines).  A run whose time is within a band around its
limit — stopped at the time limit (by CPU time, not by the wall clock), or
at least :data:`BAND` of the limit — is run again, up to :data:`RUNS` more
times, stopping early at a run clearly under the band.  The verdict and
``time_used`` are those of the fastest run: a solution that is really too
slow stays ``TLE`` (every run is), one that is fast enough is not failed by
a noisy moment.

Keys read: ``exec_remeasure_runs`` (more runs at most; default
``$SIO_REMEASURE_RUNS``, else :data:`RUNS`; 0 turns it off) and
``exec_remeasure_band`` (a fraction of the time limit, default
:data:`BAND`).  Never for ``unsafe-exec`` and ``unsafe-interactive-exec``
(their programs are trusted, their times coarse).  Keys written when it
happened: ``time_used_runs`` and ``result_code_runs`` (every measurement, in
order), ``node_runs`` (the node of each: its host name) and
``outputs_differ_between_runs`` (True when a run that ended normally wrote
other output than the one judged: reported, never hidden).  A job that may
be measured again is given the time of all its runs in its wall-clock bound
(:func:`sio.executors.batch.requirements`,
:func:`sio.executors.interactive.requirements`).

The exec jobs and the interactive jobs (there the solutions' time, the
largest of its processes', is measured and the whole interaction run again)
use it alike.  Measurements are repeated on the node that made the first,
unless the back-end places them on other nodes (``sio_ray`` on a cluster of
several capable nodes): the protocol is :mod:`sio.workers.repeats`.
"""

from __future__ import annotations

import filecmp
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sio.workers import repeats, settings
from sio.workers.executors import ExecutionResult, Limits
from sio.workers.results import OK, TLE

#: More runs of a borderline run, at most (``exec_remeasure_runs``).
RUNS = 2
#: A run at least this fraction of its time limit is borderline (``exec_remeasure_band``).
BAND = 0.9
#: The keys a job reports (a stale one from the caller's environ is removed first).
KEYS = (*repeats.RUN_KEYS, repeats.DIFFER, repeats.WANTED, repeats.AGAIN, repeats.DIGEST)
T = TypeVar('T')


@dataclass(frozen=True)
class Policy:
    """How a job's borderline runs are measured again."""

    #: More runs at most (0: never).
    runs: int
    #: The fraction of the time limit from which a run is borderline.
    band: float
    #: The back-end places the repeats (:data:`sio.workers.repeats.ELSEWHERE`).
    elsewhere: bool = False
    #: This run is the back-end's n-th repeat (:data:`sio.workers.repeats.REPEAT`; 0: not one).
    repeat: int = 0

    def borderline(self, result: ExecutionResult, limits: Limits) -> bool:
        """Whether ``result`` is within the band around its time limit."""
        if not self.runs or not limits.time_limit:
            return False
        if result.result_code == TLE:
            return not result.real_time_killed  # stopped by CPU time, not the wall clock
        return result.result_code == OK and result.time_used >= self.band * limits.time_limit

    def again(self, result: ExecutionResult, limits: Limits) -> bool:
        """Whether one more run is wanted after ``result`` (a repeat): unless
        it was clearly under the band."""
        return self.borderline(result, limits) or result.result_code != OK


def policy(environ: dict, isolated: bool) -> Policy:
    """The job's :class:`Policy` (off for unprotected runs); bad keys raise
    :class:`ValueError` naming them."""
    default = settings.REMEASURE_RUNS.get()
    runs = environ.get('exec_remeasure_runs', RUNS if default is None else default)
    if isinstance(runs, bool) or not isinstance(runs, int) or not 0 <= runs <= 10:
        raise ValueError(f"environ['exec_remeasure_runs']: {runs!r} is not a number of runs "
                         'from 0 to 10')
    band = environ.get('exec_remeasure_band', BAND)
    if isinstance(band, bool) or not isinstance(band, (int, float)) or not 0 < band <= 1:
        raise ValueError(f"environ['exec_remeasure_band']: {band!r} is not a fraction of the "
                         'time limit in (0, 1]')
    elsewhere = environ.get(repeats.ELSEWHERE, False)
    if not isinstance(elsewhere, bool):
        raise ValueError(f'environ[{repeats.ELSEWHERE!r}]: {elsewhere!r} is not true or false')
    repeat = environ.get(repeats.REPEAT, 0)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= 10:
        raise ValueError(f'environ[{repeats.REPEAT!r}]: {repeat!r} is not the number of a '
                         'repeat from 0 to 10')
    return Policy(runs if isolated else 0, float(band), elsewhere, repeat)


def one_run(result: ExecutionResult, out: Path) -> dict:
    """The measurement of one run, as a result reports it for the back-end
    to merge (:mod:`sio.workers.repeats`): lists of one, and the digest of
    its output when it ended normally with ``OK``."""
    normal = result.exit_signal is None and result.result_code == OK and out.is_file()
    return {'time_used_runs': [result.time_used], 'result_code_runs': [result.result_code],
            'node_runs': [socket.gethostname()],
            repeats.DIGEST: repeats.digest(out) if normal else None}


def measure(first: T, out: Path, limits: Limits, policy: Policy,
            run_again: Callable[[Path], T],
            measured: Callable[[T], ExecutionResult] = lambda run: run) -> tuple[T, dict]:
    """Run again while the runs are borderline (``run_again(output path)``
    runs the program once more; ``measured(run)`` is the measurement of a
    run, the run itself by default); return the run to judge — the fastest,
    whose output is then in ``out`` — and the keys to report (empty when the
    first run was not borderline).

    A repeat placed by the back-end is only reported; a borderline first run
    whose repeats the back-end places asks for them
    (:data:`sio.workers.repeats.WANTED`)."""
    result = measured(first)
    if policy.repeat:
        return first, {**one_run(result, out), repeats.AGAIN: policy.again(result, limits)}
    if not policy.borderline(result, limits):
        return first, {}
    if policy.elsewhere:
        return first, {**one_run(result, out), repeats.WANTED: policy.runs}
    runs = [(first, out)]
    for i in range(policy.runs):
        again = out.with_name(f'{out.name}.run{i + 2}')
        run = run_again(again)
        runs.append((run, again))
        if not policy.again(measured(run), limits):
            break  # clearly under the band: no need to ask again
    best, best_out = min(runs, key=lambda run: (measured(run[0]).result_code != OK,
                                                measured(run[0]).time_used))
    differ = any(measured(run).exit_signal is None and measured(run).result_code == OK
                 and path != best_out and not filecmp.cmp(path, best_out, shallow=False)
                 for run, path in runs)
    if best_out != out:
        os.replace(best_out, out)
    for _, path in runs:
        if path != out and path.exists():
            path.unlink()
    node = socket.gethostname()
    report = {'time_used_runs': [measured(run).time_used for run, _ in runs],
              'result_code_runs': [measured(run).result_code for run, _ in runs],
              'node_runs': [node] * len(runs),
              repeats.DIFFER: differ}
    return best, report
