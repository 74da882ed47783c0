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
:data:`BAND`).  Never for ``unsafe-exec`` (its programs are trusted, its
times coarse).  Keys written when it happened: ``time_used_runs`` and
``result_code_runs`` (every measurement, in order), ``node_runs`` (the node of
each: its host name) and ``outputs_differ_between_runs`` (True when a run
that ended normally wrote other output than the one judged: reported, never
hidden).  A job that may be measured again is given the time of all its runs
in its wall-clock bound (:func:`sio.executors.batch.requirements`).

Measurements are repeated on the node that made the first; sending them to
another node of the cluster, calibrating nodes and interactive jobs are not
done yet.
"""

from __future__ import annotations

import filecmp
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sio.workers import settings
from sio.workers.executors import ExecutionResult, Limits
from sio.workers.results import OK, TLE

#: More runs of a borderline run, at most (``exec_remeasure_runs``).
RUNS = 2
#: A run at least this fraction of its time limit is borderline (``exec_remeasure_band``).
BAND = 0.9
KEYS = ('time_used_runs', 'result_code_runs', 'node_runs', 'outputs_differ_between_runs')


@dataclass(frozen=True)
class Policy:
    """How a job's borderline runs are measured again."""

    runs: int
    band: float

    def borderline(self, result: ExecutionResult, limits: Limits) -> bool:
        """Whether ``result`` is within the band around its time limit."""
        if not self.runs or not limits.time_limit:
            return False
        if result.result_code == TLE:
            return not result.real_time_killed  # stopped by CPU time, not the wall clock
        return result.result_code == OK and result.time_used >= self.band * limits.time_limit


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
    return Policy(runs if isolated else 0, float(band))


def measure(first: ExecutionResult, out: Path, limits: Limits, policy: Policy,
            run_again: Callable[[Path], ExecutionResult]) -> tuple[ExecutionResult, dict]:
    """Run again while the runs are borderline (``run_again(output path)``
    runs the program once more); return the result to judge — the fastest
    run's, whose output is then in ``out`` — and the keys to report (empty
    when the first run was not borderline)."""
    if not policy.borderline(first, limits):
        return first, {}
    runs = [(first, out)]
    for i in range(policy.runs):
        again = out.with_name(f'{out.name}.run{i + 2}')
        result = run_again(again)
        runs.append((result, again))
        if not policy.borderline(result, limits) and result.result_code == OK:
            break  # clearly under the band: no need to ask again
    best, best_out = min(runs, key=lambda run: (run[0].result_code != OK, run[0].time_used))
    differ = any(result.exit_signal is None and result.result_code == OK and path != best_out
                 and not filecmp.cmp(path, best_out, shallow=False) for result, path in runs)
    if best_out != out:
        os.replace(best_out, out)
    for _, path in runs:
        if path != out and path.exists():
            path.unlink()
    node = socket.gethostname()
    report = {'time_used_runs': [result.time_used for result, _ in runs],
              'result_code_runs': [result.result_code for result, _ in runs],
              'node_runs': [node] * len(runs),
              'outputs_differ_between_runs': differ}
    return best, report
