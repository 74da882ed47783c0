"""A submission compiled and judged on 100 tests: through Ray vs sio-batch processes.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_judging.py [--tests 100] [--quick]

Both paths use the same central filetracker server (on loopback), the
``compile`` job and ``exec`` jobs with the default comparator in the isolated
executor; the Ray path runs them as a batch through :mod:`sio_ray`, the other
as one ``sio-batch`` process per job, as many at a time as Ray has CPUs (the
same parallelism).  Each path has a node cache directory of its own, and
every run judges files uploaded for it alone, so both start cold and neither
warms the other's cache; Ray's node cache server is up before the clock
runs.  After an untimed warm-up of both, the paths take turns (A B, B A, ...)
and the medians are compared; every verdict must be right.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ray

import sio_ray
from sio.demo.central import CentralServer
from sio.workers.filetracker.client import FiletrackerClient

SOURCE = ('#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b);'
          ' printf("%ld\\n", a + b); return 0; }\n')


def sio_batch(environ: dict, env: dict) -> dict:
    exe = Path(sys.executable).with_name('sio-batch')
    out = subprocess.run([str(exe)], env={**env, 'environ': json.dumps(environ)},
                         capture_output=True, text=True, check=False).stdout
    return json.loads(out.split('--- BEGIN ENVIRON ---')[1].split('--- END ENVIRON ---')[0])


class Problem:
    """A submission and its tests, uploaded under a prefix of their own."""

    def __init__(self, client: FiletrackerClient, tmp: Path, url: str, tests: int):
        prefix = f'/bench/{uuid.uuid4().hex[:12]}'
        (tmp / 'a.c').write_text(SOURCE)
        self.url = url
        self.compile_job = {
            'job_type': 'compile', 'compiler': 'system-gcc', 'filetracker_url': url,
            'source_file': client.put_file(f'{prefix}/a.c', tmp / 'a.c', to_local_store=False),
            'out_file': f'{prefix}/a.e'}
        self.tests = []
        for i in range(tests):
            (tmp / 'in').write_text(f'{i} {i}\n')
            (tmp / 'out').write_text(f'{2 * i}\n')
            self.tests.append(tuple(
                client.put_file(f'{prefix}/{i}.{kind}', tmp / kind, to_local_store=False)
                for kind in ('in', 'out')))

    def exec_jobs(self, compiled: dict) -> list[dict]:
        assert compiled.get('result_code') == 'OK', compiled
        return [{'job_type': 'exec', 'exe_file': compiled['out_file'],
                 'exec_info': compiled['exec_info'], 'in_file': i, 'hint_file': h,
                 'check_output': True, 'exec_time_limit': 1000,
                 'filetracker_url': self.url} for i, h in self.tests]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--tests', type=int, default=None, help='tests (default 100)')
    parser.add_argument('--rounds', type=int, default=2, help='timed rounds of each path')
    parser.add_argument('--quick', action='store_true', help='20 tests')
    args = parser.parse_args()
    n = args.tests or (20 if args.quick else 100)
    with tempfile.TemporaryDirectory() as tmp, CentralServer.start(Path(tmp, 'ft')) as server:
        tmp = Path(tmp)
        client = FiletrackerClient(server.url, tmp / 'cache')
        # A node cache of its own for each path (Ray's workers read it at ray.init).
        os.environ['SIO_FT_CACHE_DIR'] = str(tmp / 'ray-node')
        batch_env = {**os.environ, 'SIO_FT_CACHE_DIR': str(tmp / 'batch-node')}
        sio_ray.connect()
        slots = int(ray.cluster_resources()['CPU'])
        pool = ThreadPoolExecutor(slots)

        def through_ray(problem: Problem) -> list[dict]:
            return sio_ray.run_many(problem.exec_jobs(sio_ray.run(dict(problem.compile_job))))

        def through_sio_batch(problem: Problem) -> list[dict]:
            compiled = sio_batch(dict(problem.compile_job), batch_env)
            jobs = problem.exec_jobs(compiled)
            return list(pool.map(lambda job: sio_batch(job, batch_env), jobs))

        paths = {'sio_ray': through_ray, 'sio-batch': through_sio_batch}
        for path in paths.values():  # untimed: workers, compilers, Ray's node cache server
            path(Problem(client, tmp, server.url, 4))
        times = {name: [] for name in paths}
        for i in range(args.rounds):
            for name in (list(paths) if i % 2 == 0 else list(paths)[::-1]):
                problem = Problem(client, tmp, server.url, n)  # cold for this run alone
                start = time.perf_counter()
                results = paths[name](problem)
                times[name].append(time.perf_counter() - start)
                codes = [r.get('result_code') for r in results]
                assert codes == ['OK'] * n, f'{name}, round {i}: {codes}'
        pool.shutdown()
    ray_s, batch_s = statistics.median(times['sio_ray']), statistics.median(times['sio-batch'])
    print(f'compile + {n} tests, {slots} at a time, {args.rounds} rounds each (medians): '
          f'sio_ray {ray_s:.2f} s, sio-batch processes {batch_s:.2f} s, ratio {ray_s / batch_s:.2f}'
          f'  (runs: sio_ray {", ".join(f"{t:.2f}" for t in times["sio_ray"])}; '
          f'sio-batch {", ".join(f"{t:.2f}" for t in times["sio-batch"])})')


if __name__ == '__main__':
    main()
