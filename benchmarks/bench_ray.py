"""Per-job cost of Ray dispatch against a local process pool of the same width, in one run.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_ray.py [--jobs N] [--quick]

N ``ping`` jobs through ``sio_ray.run_many`` (a local Ray, started before the
clock runs) vs the same N jobs through ``sio.workers.runner.run`` in a
:class:`~concurrent.futures.ProcessPoolExecutor` with as many processes as
Ray has CPUs: the same work at the same parallelism, both warmed up, measured
in alternating order over several rounds (medians), every result checked.
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


def _pong(job: dict):
    result = run(dict(job))
    return result['result'], result.get('pong')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--jobs', type=int, default=None, help='jobs per round (default 2000)')
    parser.add_argument('--rounds', type=int, default=None, help='rounds (default 4)')
    parser.add_argument('--quick', action='store_true', help='300 jobs, 2 rounds')
    args = parser.parse_args()
    n = args.jobs or (300 if args.quick else 2000)
    rounds = args.rounds or (2 if args.quick else 4)
    jobs = [{'job_type': 'ping', 'ping': i} for i in range(n)]
    expected = [('SUCCESS', i) for i in range(n)]
    sio_ray.connect()
    slots = int(ray.cluster_resources()['CPU'])
    # Spawned, not forked: this process runs Ray's threads.
    with ProcessPoolExecutor(slots, mp_context=multiprocessing.get_context('spawn')) as pool:
        def through_ray():
            return [(r['result'], r.get('pong')) for r in sio_ray.run_many(jobs)]

        def through_pool():
            return list(pool.map(_pong, jobs))

        paths = {'sio_ray': through_ray, 'process pool': through_pool}
        for path in paths.values():  # warm the workers of both
            path()
        times = {name: [] for name in paths}
        for i in range(rounds):
            for name in (list(paths) if i % 2 == 0 else list(paths)[::-1]):
                start = time.perf_counter()
                results = paths[name]()
                times[name].append((time.perf_counter() - start) * 1000 / n)
                assert results == expected, f'{name}: wrong results in round {i}'
    ray_ms = statistics.median(times['sio_ray'])
    pool_ms = statistics.median(times['process pool'])
    print(f'{n} ping jobs x {rounds} rounds on {slots} CPUs (medians): sio_ray {ray_ms:.3f} ms/job, '
          f'process pool of {slots} {pool_ms:.3f} ms/job, overhead {ray_ms - pool_ms:.3f} ms/job '
          f'(ratio {ray_ms / pool_ms:.1f})')


if __name__ == '__main__':
    main()
