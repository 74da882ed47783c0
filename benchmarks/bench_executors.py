"""Per-run cost of the executors, against plain fork+exec measured in the same run.

    .venv/bin/python benchmarks/bench_executors.py [--runs N]

A trivial static program (``return 0``) is started by ``subprocess`` (plain
fork+exec), by the unprotected executor and by the isolated executor, and a
whole ``exec`` job (local files, default comparator) runs it; medians and p95
in ms, and the ratio/difference to plain fork+exec.  Each is measured back to
back and after 50 ms of idleness (moving a process into a cgroup waits for
the kernel after a pause; see :mod:`sio.workers.isolation.cgroups`, and once
more with ``favordynmods`` off), and the isolated executor also as compilers
and generators run (``keep_files``: the box on a host tmpfs copied in and
back, or with ``SIO_BOX_TMPFS=0`` the box directory itself), so the cost of
each defence shows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from sio.workers.executors import IsolatedExecutor, UnprotectedExecutor
from sio.workers.isolation import cgroups
from sio.workers.runner import run
from timing import p95, sample_ms


def _exec_job(tmp: Path) -> None:
    result = run({'job_type': 'exec', 'use_filetracker': False, 'exe_file': str(tmp / 'box' / 'r'),
                  'in_file': str(tmp / 'in'), 'hint_file': str(tmp / 'in'), 'check_output': True})
    assert result['result_code'] == 'OK', result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        box = tmp / 'box'
        box.mkdir()
        (tmp / 'r.c').write_text('int main(void) { return 0; }\n')
        subprocess.run(['gcc', '-O2', '-static', '-o', str(box / 'r'), str(tmp / 'r.c')],
                       check=True)
        exe = str(box / 'r')
        (tmp / 'in').write_text('')
        runs, warmup = args.runs, max(3, args.runs // 10)
        def kept_files(tmpfs: bool):
            def run_once():
                if not tmpfs:
                    os.environ['SIO_BOX_TMPFS'] = '0'
                try:
                    IsolatedExecutor()(['./r'], cwd=box, keep_files=True)
                finally:
                    os.environ.pop('SIO_BOX_TMPFS', None)
            return run_once

        cases = {
            'plain fork+exec': lambda: subprocess.run([exe], check=True),
            'unprotected executor': lambda: UnprotectedExecutor()([exe], cwd=box),
            'isolated executor': lambda: IsolatedExecutor()(['./r'], cwd=box),
            'isolated, files kept (host tmpfs)': kept_files(True),
            'isolated, files kept (host disk)': kept_files(False),
            'exec job + comparator': lambda: _exec_job(tmp),
        }
        rows = {}
        for name, fn in cases.items():
            rows[name] = sample_ms(fn, runs, warmup)
            rows[name + ' (idle 50 ms)'] = sample_ms(fn, max(10, runs // 4), 1, idle=0.05)
        if cgroups.backend() and getattr(cgroups, 'favordynmods', lambda: None)() is not None:
            # The node setting that keeps moves into cgroups cheap after a pause, off for a while.
            cgroups.set_favordynmods(False)
            try:
                for name in ('isolated executor', 'exec job + comparator'):
                    rows[name + ' (idle 50 ms, no favordynmods)'] = sample_ms(
                        cases[name], max(10, runs // 4), 1, idle=0.05)
            finally:
                cgroups.set_favordynmods(True)
        print(f'cgroups: {cgroups.backend() or "none (rlimits)"}; bwrap: {shutil.which("bwrap")}; '
              f'cgroup v2 favordynmods: {getattr(cgroups, "favordynmods", lambda: None)()}')
        base = statistics.median(rows['plain fork+exec'])
        print(f'{"":42} {"median":>9} {"p95":>9} {"ratio":>7} {"+ms":>7}')
        for name, values in rows.items():
            median = statistics.median(values)
            print(f'{name:42} {median:9.2f} {p95(values):9.2f} {median / base:7.1f} '
                  f'{median - base:7.2f}')


if __name__ == '__main__':
    main()
