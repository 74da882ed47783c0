"""Inputs read where they are cached (issue 11 §3): a contest on three nodes, with and without locality.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_locality.py [--quick]
        [--submissions 100] [--tests 20] [--problems 5] [--in-kib 2048] [--sleep 0.02]
        [--cache-share 0.4] [--rounds 1]

A real central ``filetracker-server`` holds the tests of ``--problems``
problems (``--tests`` each: an input of ``--in-kib`` KiB and a 16 KiB model
output) and one 64 KiB program per submission; ``--submissions`` submissions
(of the problems in turn) are judged on every test of their problem, all
queued at once (a rejudge, or the end of a contest), as ``test-read`` jobs of
the tests' plugin: a job reads its test's input, model output and program
through its node's cache, as an exec and its checker would, then "runs" for
``--sleep`` seconds.

Each configuration gets a fresh local Ray cluster — a head that runs nothing
and three one-CPU nodes, each with a node cache directory of its own (as
separate machines have) — warmed up (every node has run a job) before the
clock starts, and judges the same contest; the node caches are:

* unbounded (10 GiB): every node can end up holding every test;
* bounded to ``--cache-share`` of the contest's test data each
  (``SIO_FT_CACHE_SIZE``): the three nodes together hold it a little over
  once, so where a job runs decides whether its input is there.

Without locality (``SIO_RAY_LOCALITY=0``) and with it, in one run; with
``--rounds N`` each pair N times, in turns (off then on, on then off, ...),
the ratios taken of the medians.  Counted:
GETs that sent a file body from the central server (its access log) and
their MiB, cold reads (files a job could not read straight from its node's
store: :func:`sio_test_plugin.read_job`'s ``cold_reads``) and the makespan
(first job queued to last result); every job must succeed and read every
byte.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('RAY_AUTH_MODE', 'disabled')  # a local benchmark cluster only

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

import sio_ray  # noqa: E402
from sio.demo.central import CentralServer  # noqa: E402
from sio.workers.filetracker.client import FiletrackerClient  # noqa: E402
from sio_ray import tags  # noqa: E402

HINT_BYTES = 16 << 10
EXE_BYTES = 64 << 10


def upload_contest(origin: FiletrackerClient, tmp: Path, args) -> list[dict]:
    """Upload the problems' tests and the submissions' programs; the jobs."""
    src = tmp / 'src'

    def put(name: str, size: int) -> str:
        src.write_bytes(os.urandom(size))
        return origin.put_file(name, src, to_local_store=False)

    tests = {(p, t): (put(f'/contest/p{p}/{t}.in', args.in_kib << 10),
                      put(f'/contest/p{p}/{t}.out', HINT_BYTES))
             for p in range(args.problems) for t in range(args.tests)}
    jobs = []
    for s in range(args.submissions):
        p = s % args.problems
        exe = put(f'/contest/submissions/{s}.e', EXE_BYTES)
        for t in range(args.tests):
            in_file, hint_file = tests[p, t]
            jobs.append({'job_type': 'test-read', 'filetracker_url': origin.remote_url,
                         'in_file': in_file, 'hint_file': hint_file, 'exe_file': exe,
                         'sleep': args.sleep, 'job_id': f's{s}-p{p}-t{t}'})
    return jobs


def central_gets(log: Path, since: int) -> tuple[int, float]:
    """GETs of /contest files that sent a body, and their MiB, in the central
    server's access log from offset ``since`` (once it stopped growing)."""
    last = None
    while (text := log.read_text()[since:]) != last:
        last = text
        time.sleep(0.5)
    sizes = [int(b) for b in re.findall(r'"GET /files/contest/\S+ HTTP/1\.1" 200 (\d+)', text)]
    sizes = [b for b in sizes if b > 0]
    return len(sizes), sum(sizes) / (1 << 20)


def judge(central: CentralServer, jobs: list[dict], tmp: Path, label: str, locality: bool,
          cache_bytes: int | None, labels: dict, read_bytes: int) -> dict:
    """One configuration on a fresh cluster: the contest's numbers."""
    os.environ['SIO_RAY_LOCALITY'] = '1' if locality else '0'
    cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 0,
                                                            'include_dashboard': False})
    try:
        nodes = []
        for i in range(3):
            env = {'SIO_FT_CACHE_DIR': str(tmp / f'{label}-node{i}')}
            if cache_bytes:
                env['SIO_FT_CACHE_SIZE'] = str(cache_bytes)
            nodes.append(cluster.add_node(num_cpus=1, labels=labels, env_vars=env).node_id)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
        # Warm up: every node starts a worker and its node cache (a file of its own).
        warm = FiletrackerClient(central.url, tmp / 'warm-origin')
        (tmp / 'warm').write_bytes(b'warm')
        warm_file = warm.put_file(f'/warm/{label}', tmp / 'warm', to_local_store=False)
        from sio_ray.task import run_job
        ray.get([run_job.options(num_cpus=0, label_selector={'ray.io/node-id': n}).remote(
            {'job_type': 'test-read', 'filetracker_url': central.url, 'in_file': warm_file})
            for n in nodes], timeout=300)
        sio_ray.connect()
        time.sleep(2)  # the node caches have published what they hold
        offset = len(central.log_path.read_text())
        start = time.monotonic()
        results = sio_ray.run_many(jobs)
        makespan = time.monotonic() - start
        bad = [r for r in results
               if r.get('result') != 'SUCCESS' or r.get('read_bytes') != read_bytes]
        assert not bad, (bad[0].get('exception'), bad[0].get('traceback'))
        gets, mib = central_gets(central.log_path, offset)
        per_node = Counter(nodes.index(r['ray_node_id']) for r in results)
        return {'makespan': makespan, 'gets': gets, 'mib': mib,
                'cold': sum(r['cold_reads'] for r in results), 'reads': 3 * len(results),
                'per_node': [per_node.get(i, 0) for i in range(3)]}
    finally:
        sio_ray.shutdown()
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--quick', action='store_true',
                        help='30 submissions x 10 tests, 1 MiB inputs')
    parser.add_argument('--submissions', type=int)
    parser.add_argument('--tests', type=int)
    parser.add_argument('--problems', type=int, default=5)
    parser.add_argument('--in-kib', type=int)
    parser.add_argument('--sleep', type=float, default=0.02, help="each test's run (s)")
    parser.add_argument('--cache-share', type=float, default=0.4,
                        help="a bounded node cache's size, as a share of the test data")
    parser.add_argument('--rounds', type=int, default=1,
                        help='each pair this many times, in turns')
    args = parser.parse_args()
    args.submissions = args.submissions or (30 if args.quick else 100)
    args.tests = args.tests or (10 if args.quick else 20)
    args.in_kib = args.in_kib or (1024 if args.quick else 2048)
    test_data = args.problems * args.tests * ((args.in_kib << 10) + HINT_BYTES)
    bounded = int(args.cache_share * test_data)
    with tempfile.TemporaryDirectory(prefix='bench-locality-') as tmp, \
            CentralServer.start(Path(tmp, 'ft')) as central:
        tmp = Path(tmp)
        jobs = upload_contest(FiletrackerClient(central.url, tmp / 'origin'), tmp, args)
        print(f'{args.submissions} submissions x {args.tests} tests of {args.problems} problems '
              f'= {len(jobs)} jobs on 3 one-CPU nodes; inputs {args.in_kib} KiB, test data '
              f'{test_data / 2**20:.0f} MiB, each job reads 3 files and runs {args.sleep:g} s')
        labels = tags.node_labels()
        read_bytes = (args.in_kib << 10) + HINT_BYTES + EXE_BYTES
        rows = []
        for cache, cache_bytes in (('unbounded', None),
                                   (f'{bounded / 2**20:.0f} MiB', bounded)):
            for locality in [loc for r in range(args.rounds)
                             for loc in ((False, True) if r % 2 == 0 else (True, False))]:
                label = f"{'on' if locality else 'off'}-{len(rows)}"
                got = judge(central, jobs, tmp, label, locality, cache_bytes, labels, read_bytes)
                rows.append((cache, locality, got))
                print(f"  cache {cache:>9}, locality {'on ' if locality else 'off'}: "
                      f"{got['gets']:5d} central GETs ({got['mib']:7.1f} MiB), "
                      f"{got['cold']:5d} cold reads of {got['reads']}, "
                      f"makespan {got['makespan']:6.1f} s, jobs per node {got['per_node']}",
                      flush=True)
        print('locality on vs off (ratios, lower is better):')
        for cache in dict.fromkeys(c for c, _, _ in rows):
            off, on = ({key: statistics.median(g[key] for c, loc, g in rows
                                               if c == cache and loc == want)
                        for key in ('gets', 'cold', 'makespan')} for want in (False, True))
            print(f"  cache {cache:>9}: central GETs x{on['gets'] / max(1, off['gets']):.2f}, "
                  f"cold reads x{on['cold'] / max(1, off['cold']):.2f}, "
                  f"makespan x{on['makespan'] / off['makespan']:.2f}")


if __name__ == '__main__':
    main()
