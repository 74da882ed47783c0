"""Elastic scale from queue depth, against a static cluster of the same
maximum size, in one run: time to the first result and makespan of N jobs of
S seconds each.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_autoscale.py [--jobs 40] [--seconds 1]

Both clusters are real Ray on this machine with Ray's fake multi-node
provider (tests/cluster/autoscaling.py): a head that runs nothing and a
judge node type of one CPU.  Autoscaled: no judges at first, the autoscaler
adds up to ``--max`` while sio_ray reports the queue's demand.  Static: the
same ``--max`` judges started (and waited for) before the clock runs.
Needs the test plugin (``scripts/test.sh`` installs it) for ``test-sleep``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.cluster.autoscaling

import sio_ray  # noqa: E402
from sio_ray import tags  # noqa: E402
from tests.cluster.autoscaling import FakeAutoscalingCluster  # noqa: E402


def measure(cluster: FakeAutoscalingCluster, jobs: list[dict], judges_first: int) -> tuple:
    cluster.start()
    try:
        sio_ray.connect(cluster.address)
        if judges_first:
            cluster.wait_for_judges(judges_first)
        start = time.perf_counter()
        futures = sio_ray.submit_many(jobs)
        first = None
        for future in as_completed(futures):
            assert future.result()['result'] == 'SUCCESS', future.result().get('exception')
            first = first if first is not None else time.perf_counter() - start
        return first, time.perf_counter() - start, len(cluster.judges())
    finally:
        sio_ray.shutdown()
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--jobs', type=int, default=40)
    parser.add_argument('--seconds', type=float, default=1.0)
    parser.add_argument('--max', type=int, default=2, help='judges at most (static: all along)')
    args = parser.parse_args()
    os.environ.setdefault('RAY_AUTH_MODE', 'disabled')
    jobs = [{'job_type': 'test-sleep', 'sleep': args.seconds, 'job_id': f'bench-{i}'}
            for i in range(args.jobs)]
    labels = tags.node_labels()
    elastic = measure(FakeAutoscalingCluster(labels, min_workers=0, max_workers=args.max,
                                             idle_timeout_minutes=1), jobs, 0)
    static = measure(FakeAutoscalingCluster(labels, min_workers=args.max, max_workers=args.max,
                                            idle_timeout_minutes=1), jobs, args.max)
    ideal = args.jobs * args.seconds / args.max
    print(f'{args.jobs} jobs x {args.seconds:g} s, judges of 1 CPU, at most {args.max} '
          f'(arithmetic ideal makespan {ideal:.1f} s):')
    for name, (first, makespan, judges) in (('autoscaled from 0', elastic),
                                            (f'static {args.max}', static)):
        print(f'  {name:<18} first result {first:6.2f} s, makespan {makespan:6.2f} s '
              f'({judges} judges at the end)')
    print(f'  autoscaled / static: first result +{elastic[0] - static[0]:.2f} s, makespan '
          f'{elastic[1] / static[1]:.2f}x')


if __name__ == '__main__':
    main()
