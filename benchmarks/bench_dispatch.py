"""Dispatch efficiency, the CMS method: N jobs that each occupy a slot for 0.1 s
on S slots; the total time through Ray against the same jobs on S local
worker processes, measured in the same run.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_dispatch.py [--jobs 400] [--quick]

The baseline runs the very same ``test-sleep`` jobs through
``sio.workers.runner.run`` in a :class:`~concurrent.futures.ProcessPoolExecutor`
of S processes (S: Ray's CPUs); both are warmed up and measured in
alternating order, and every job must have succeeded and slept its time.
Target: Ray's total at most 1.10 × the baseline's (CMS reports 1.24–1.41
against the arithmetic ideal N × 0.1 s / S, printed too); the medians of
three rounds by default; exits 1 when the target is missed.

Needs the test plugin (``scripts/test.sh`` installs it) for its ``test-sleep`` job.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import ray

import sio_ray
from sio.workers.runner import run

from timing import verdict

TARGET = 1.10


def _run(job: dict) -> dict:
    return run(dict(job))


def _check(results: list[dict], seconds: float, path: str) -> None:
    failed = [r for r in results if r.get('result') != 'SUCCESS']
    assert not failed, f'{path}: {len(failed)} jobs failed, e.g. {failed[0]}'
    short = [r for r in results if r['ended'] - r['started'] < seconds * 0.99]
    assert not short, f'{path}: {len(short)} jobs did not sleep their {seconds} s'


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--jobs', type=int, default=None, help='jobs per round (default 400)')
    parser.add_argument('--seconds', type=float, default=0.1)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--quick', action='store_true', help='100 jobs')
    args = parser.parse_args()
    n = args.jobs or (100 if args.quick else 400)
    sio_ray.connect()
    slots = int(ray.cluster_resources()['CPU'])
    jobs = [{'job_type': 'test-sleep', 'sleep': args.seconds} for _ in range(n)]
    warm = [{'job_type': 'test-sleep', 'sleep': 0} for _ in range(4 * slots)]
    # Spawned, not forked: this process runs Ray's threads.
    with ProcessPoolExecutor(slots, mp_context=multiprocessing.get_context('spawn')) as pool:
        paths = {'sio_ray': sio_ray.run_many, 'process pool': lambda js: list(pool.map(_run, js))}
        for path in paths.values():
            path(warm)
        totals = {name: [] for name in paths}
        for i in range(args.rounds):
            for name in (list(paths) if i % 2 == 0 else list(paths)[::-1]):
                start = time.perf_counter()
                results = paths[name](jobs)
                totals[name].append(time.perf_counter() - start)
                _check(results, args.seconds, name)
    ray_s = statistics.median(totals['sio_ray'])
    pool_s = statistics.median(totals['process pool'])
    ideal = n * args.seconds / slots
    print(f'{n} jobs x {args.seconds} s on {slots} slots, {args.rounds} rounds (medians): '
          f'sio_ray {ray_s:.2f} s, process pool of {slots} {pool_s:.2f} s, '
          f'arithmetic ideal {ideal:.2f} s (sio_ray / ideal {ray_s / ideal:.3f})')
    return 0 if verdict('sio_ray / process pool', ray_s / pool_s, TARGET) else 1


if __name__ == '__main__':
    raise SystemExit(main())
