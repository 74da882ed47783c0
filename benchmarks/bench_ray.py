"""Per-job cost of Ray dispatch against the in-process runner, in one run.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_ray.py [--jobs N]

N ``ping`` jobs through ``sio_ray.run_many`` (a local Ray, started before the
clock runs) vs N calls of ``sio.workers.runner.run`` in this process.
"""

from __future__ import annotations

import argparse
import time

import sio_ray
from sio.workers.runner import run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--jobs', type=int, default=2000)
    args = parser.parse_args()
    jobs = [{'job_type': 'ping', 'ping': i} for i in range(args.jobs)]
    sio_ray.connect()
    sio_ray.run_many(jobs[:50])  # warm the workers
    start = time.perf_counter()
    results = sio_ray.run_many(jobs)
    ray_ms = (time.perf_counter() - start) * 1000 / args.jobs
    assert [r['pong'] for r in results] == list(range(args.jobs))
    start = time.perf_counter()
    for job in jobs:
        run(dict(job))
    local_ms = (time.perf_counter() - start) * 1000 / args.jobs
    print(f'{args.jobs} ping jobs: sio_ray {ray_ms:.3f} ms/job, in-process run {local_ms:.3f} ms/job, '
          f'overhead {ray_ms - local_ms:.3f} ms/job (ratio {ray_ms / local_ms:.1f})')


if __name__ == '__main__':
    main()
