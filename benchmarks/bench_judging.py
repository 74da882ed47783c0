"""A submission compiled and judged on 100 tests: through Ray vs a sio-batch loop.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_judging.py [--tests 100]

Both paths use the same central filetracker server (on loopback), the
``compile`` job and ``exec`` jobs with the default comparator in the isolated
executor; the Ray path runs them as a batch through :mod:`sio_ray`, the other
as one ``sio-batch`` process per job.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sio_ray
from sio.workers.ftclient import FiletrackerClient
from sio.workers.ftserver import CentralServer

SOURCE = ('#include <stdio.h>\nint main(void) { long a, b; scanf("%ld %ld", &a, &b);'
          ' printf("%ld\\n", a + b); return 0; }\n')


def sio_batch(environ: dict) -> dict:
    exe = Path(sys.executable).with_name('sio-batch')
    out = subprocess.run([str(exe)], env={**os.environ, 'environ': json.dumps(environ)},
                         capture_output=True, text=True, check=False).stdout
    return json.loads(out.split('--- BEGIN ENVIRON ---')[1].split('--- END ENVIRON ---')[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--tests', type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, CentralServer.start(Path(tmp, 'ft')) as server:
        tmp = Path(tmp)
        client = FiletrackerClient(server.url, tmp / 'cache')
        (tmp / 'a.c').write_text(SOURCE)
        source = client.put_file('/bench/a.c', tmp / 'a.c', to_local_store=False)
        tests = []
        for i in range(args.tests):
            (tmp / 'in').write_text(f'{i} {i}\n')
            (tmp / 'out').write_text(f'{2 * i}\n')
            tests.append((client.put_file(f'/bench/{i}.in', tmp / 'in', to_local_store=False),
                          client.put_file(f'/bench/{i}.out', tmp / 'out', to_local_store=False)))
        compile_job = {'job_type': 'compile', 'source_file': source, 'compiler': 'system-gcc',
                       'out_file': '/bench/a.e', 'filetracker_url': server.url}

        def exec_jobs(compiled):
            return [{'job_type': 'exec', 'exe_file': compiled['out_file'],
                     'exec_info': compiled['exec_info'], 'in_file': i, 'hint_file': h,
                     'check_output': True, 'exec_time_limit': 1000,
                     'filetracker_url': server.url} for i, h in tests]

        sio_ray.connect()
        sio_ray.run({'job_type': 'ping', 'ping': 0})  # Ray's workers up before the clock runs
        timings = {}
        for name, run_one, run_all in [
                ('sio_ray', sio_ray.run, sio_ray.run_many),
                ('sio-batch loop', sio_batch, lambda jobs: [sio_batch(j) for j in jobs])]:
            start = time.perf_counter()
            compiled = run_one(dict(compile_job))
            results = run_all(exec_jobs(compiled))
            timings[name] = time.perf_counter() - start
            assert all(r.get('result_code') == 'OK' for r in results), results[:1]
        print(f"compile + {args.tests} tests: sio_ray {timings['sio_ray']:.2f} s, sio-batch loop "
              f"{timings['sio-batch loop']:.2f} s, ratio "
              f"{timings['sio_ray'] / timings['sio-batch loop']:.2f}")


if __name__ == '__main__':
    main()
