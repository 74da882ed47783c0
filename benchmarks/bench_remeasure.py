"""Borderline times measured again: false TLEs under contention, and what they cost.

    .venv/bin/python benchmarks/bench_remeasure.py [--quick]

A program doing a fixed amount of work (``tests/programs/fixed_work.c``) runs
as real ``exec`` jobs (real boxes, local files) pinned to one CPU beside a
busy loop pinned there too (``os.sched_setaffinity``): 2× contention, half
the core each.  Its time limit is set in the same run so that its median
CPU time under that contention is 85 % of it; every ``TLE`` it gets is then a
false one, made by the node's noise.  100 jobs without re-measurement
(``exec_remeasure_runs: 0``, the baseline) and 100 with it (the defaults: up
to 2 more runs of a run in the band of 90 % or stopped at its CPU-time
limit) are taken in turns, one of each, so that drifts of the machine touch
both alike (``--quick``: 20 of each).  Printed: the false-TLE rate of each,
runs per job, CPU time per job (every run's, as the cgroup counts it) and
wall time per job, each with its ratio to the baseline; then the same
program at 200 % of its limit, which must stay ``TLE`` every time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sio.workers.runner import run
from timing import quick_flag

SOURCE = Path(__file__).resolve().parent.parent / 'tests' / 'programs' / 'fixed_work.c'
#: Steps of fixed_work: about 0.3 s of CPU time on the development machine.
STEPS = 120
#: Runs of the program, without a time limit to speak of, that set its limit.
CALIBRATION_RUNS = 9


def job(tmp: Path, time_limit: int, **extra) -> tuple[dict, float]:
    """One real exec job of fixed_work; its result and wall-clock seconds."""
    started = time.perf_counter()
    result = run({'job_type': 'exec', 'use_filetracker': False,
                  'exe_file': str(tmp / 'fixed_work'), 'in_file': str(tmp / 'in'),
                  'extra_execution_args': [str(STEPS)], 'exec_time_limit': time_limit,
                  'exec_real_time_limit': 60_000, **extra})
    assert result['result'] == 'SUCCESS', result.get('traceback')
    return result, time.perf_counter() - started


def cpu_ms(result: dict) -> int:
    """The CPU time of every run of the job."""
    return sum(result.get('time_used_runs', [result['time_used']]))


def runs_of(result: dict) -> int:
    return len(result.get('time_used_runs', [0]))


def summary(results: list[tuple[dict, float]]) -> dict:
    tle = sum(r['result_code'] == 'TLE' for r, _ in results)
    return {'tle': tle, 'rate': tle / len(results),
            'runs': statistics.mean(runs_of(r) for r, _ in results),
            'cpu': statistics.mean(cpu_ms(r) for r, _ in results),
            'wall': statistics.mean(wall for _, wall in results)}


def ratio(value: float, base: float) -> str:
    return f'{value / base:5.2f}x' if base else '  n/a'


def main() -> None:
    jobs = 20 if quick_flag() else 100
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(['gcc', '-O2', '-static', '-o', str(tmp / 'fixed_work'), str(SOURCE)],
                       check=True)
        (tmp / 'in').write_text('')
        saved = os.sched_getaffinity(0)
        cpu = max(saved)
        hog = subprocess.Popen(['taskset', '-c', str(cpu), 'sh', '-c', 'while :; do :; done'])
        os.sched_setaffinity(0, {cpu})  # the boxes this thread starts inherit it
        try:
            free = [job(tmp, 60_000, exec_remeasure_runs=0)[0]['time_used']
                    for _ in range(CALIBRATION_RUNS)]
            median = statistics.median(free)
            limit = round(median / 0.85)
            without, with_ = [], []
            for _ in range(jobs):
                without.append(job(tmp, limit, exec_remeasure_runs=0))
                with_.append(job(tmp, limit))
            slow = [job(tmp, round(median / 2)) for _ in range(max(5, jobs // 10))]
        finally:
            os.sched_setaffinity(0, saved)
            hog.kill()
            hog.wait()
    base, new = summary(without), summary(with_)
    print(f're-measurement under 2x contention (CPU {cpu} shared with a busy loop), '
          f'{jobs} jobs each, taken in turns')
    print(f'  the program: median CPU {median:.0f} ms under contention '
          f'(min {min(free)}, max {max(free)}, CV '
          f'{statistics.pstdev(free) / statistics.mean(free):.2f}); limit {limit} ms = '
          f'median / 0.85')
    print(f'  {"":28} {"false TLE":>12} {"runs/job":>9} {"CPU ms/job":>11} {"wall s/job":>11}')
    for name, s in (('without (baseline)', base), ('with re-measurement', new)):
        print(f'  {name:28} {s["tle"]:4d} ({s["rate"]:5.1%}) {s["runs"]:9.2f} '
              f'{s["cpu"]:11.1f} {s["wall"]:11.2f}')
    print(f'  ratio with/without:          false TLE {ratio(new["rate"], base["rate"])}, '
          f'CPU {ratio(new["cpu"], base["cpu"])}, wall {ratio(new["wall"], base["wall"])}')
    slow_tle = sum(r['result_code'] == 'TLE' for r, _ in slow)
    every = all(r.get('result_code_runs') == ['TLE'] * 3 for r, _ in slow)
    print(f'  200 % of its limit, with re-measurement: {slow_tle}/{len(slow)} TLE '
          f'({"every run TLE" if every else "NOT every run TLE"})')


if __name__ == '__main__':
    main()
