"""Borderline runs repeated on other nodes: the contract between a job and a back-end.

A job that measures time (:mod:`sio.executors.remeasure`) repeats a
borderline run itself, on the node that made the first, unless the back-end
offers to place the repeats elsewhere.  The job says how many repeats it may
make in its requirements (:attr:`sio.workers.requirements.Requirements.repeats`);
a back-end that can run them on other nodes (``sio_ray`` on a cluster of
more than one capable node) then:

1. sets :data:`ELSEWHERE` in the job's environ: a borderline first run is
   not repeated on the node; its result carries :data:`WANTED` (the more runs
   the job wants at most) and its one measurement;
2. runs each repeat as the same job with :data:`REPEAT` (the repeat's
   number, from 1) on another node: it runs once, uploads nothing and says in
   :data:`AGAIN` whether one more run is wanted (it was borderline too, or
   not OK);
3. delivers one result, :func:`merge` of the runs' results: the fastest
   run's, with every measurement.

Every run's result holds its measurement as lists of one — ``time_used_runs``,
``result_code_runs`` (the program's code, before any checking) and
``node_runs`` (its host name) — and :data:`DIGEST`, the SHA-256 of its
output when the program ended normally with ``OK``, so that outputs of runs
on different nodes can be compared.  None of the keys of this protocol
(:data:`PROTOCOL`) stays in a result delivered to a caller (:func:`strip`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sio.workers.results import OK

#: (Back-end to job) ``True``: repeats of a borderline run are placed by the back-end.
ELSEWHERE = 'remeasure_elsewhere'
#: (Back-end to job) This run is a repeat, the n-th (from 1): run once, never repeat.
REPEAT = 'remeasure_repeat'
#: (Job to back-end) More runs wanted at most, after a borderline first run.
WANTED = 'remeasure_wanted'
#: (Job to back-end) Whether one more run is wanted after this repeat.
AGAIN = 'remeasure_again'
#: (Job to back-end) SHA-256 (hex) of the run's output, or None.
DIGEST = 'remeasure_output_digest'
#: Every key of the protocol: never in a result delivered to a caller.
PROTOCOL = (ELSEWHERE, REPEAT, WANTED, AGAIN, DIGEST)
#: The measurements of each run, in the order of the runs.
RUN_KEYS = ('time_used_runs', 'result_code_runs', 'node_runs')
DIFFER = 'outputs_differ_between_runs'


def digest(path: Path) -> str:
    """The SHA-256 of the file at ``path`` (hex)."""
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def wanted(result: dict) -> int:
    """How many more runs a first run's result asks the back-end for (0: none)."""
    value = result.get(WANTED) or 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def again(result: dict) -> bool:
    """Whether a repeat's result asks for one more run."""
    return bool(result.get(AGAIN))


def strip(result: dict) -> dict:
    """``result`` without the keys of this protocol."""
    return {key: value for key, value in result.items() if key not in PROTOCOL}


def _rank(result: dict) -> tuple:
    return result['result_code_runs'][0] != OK, result['time_used_runs'][0]


def merge(runs: list[dict]) -> dict:
    """The one result of a job whose runs were made apart (``runs``: their
    results, first run first, each ``result: SUCCESS``): the fastest ``OK``
    run's result (else the fastest run's), with the measurements of all runs
    in ``time_used_runs``, ``result_code_runs``, ``node_runs`` and
    ``outputs_differ_between_runs`` (whether a run that ended normally with
    ``OK`` wrote other output than the one judged)."""
    best = min(runs, key=_rank)  # the first of equals, as on one node
    result = strip(best)
    for key in RUN_KEYS:
        result[key] = [value for run in runs for value in run[key]]
    judged = best.get(DIGEST)
    result[DIFFER] = judged is not None and any(run.get(DIGEST) not in (None, judged)
                                                for run in runs)
    return result
