"""Dispatch efficiency, the CMS method: N jobs that each occupy a slot for 0.1 s
on S slots; total time / ideal time (ideal = N × 0.1 s / S).

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_dispatch.py [--jobs 400]

Needs the test plugin (``scripts/test.sh`` installs it) for its ``test-sleep`` job.
Target: at most 1.10 (CMS reports 1.24–1.41).
"""

from __future__ import annotations

import argparse
import time

import ray

import sio_ray


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--jobs', type=int, default=400)
    parser.add_argument('--seconds', type=float, default=0.1)
    args = parser.parse_args()
    sio_ray.connect()
    slots = int(ray.cluster_resources()['CPU'])
    sio_ray.run_many([{'job_type': 'test-sleep', 'sleep': 0} for _ in range(4 * slots)])  # warm-up
    jobs = [{'job_type': 'test-sleep', 'sleep': args.seconds} for _ in range(args.jobs)]
    start = time.perf_counter()
    results = sio_ray.run_many(jobs)
    total = time.perf_counter() - start
    assert all(r['result'] == 'SUCCESS' for r in results)
    ideal = args.jobs * args.seconds / slots
    print(f'{args.jobs} jobs x {args.seconds} s on {slots} slots: {total:.2f} s, ideal {ideal:.2f} s,'
          f' ratio {total / ideal:.3f}')


if __name__ == '__main__':
    main()
