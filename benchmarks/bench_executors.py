"""Per-run cost of the executors, against plain fork+exec measured in the same run.

    .venv/bin/python benchmarks/bench_executors.py [--runs N]

A trivial static program (``return 0``) is started by ``subprocess`` (plain
fork+exec), by the unprotected executor and by the isolated executor, and a
whole ``exec`` job (local files, default comparator) runs it; medians and p95
in ms, and the ratio/difference to plain fork+exec.
"""

from __future__ import annotations

import argparse
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
        rows = {
            'plain fork+exec': sample_ms(lambda: subprocess.run([exe], check=True), runs, warmup),
            'unprotected executor': sample_ms(lambda: UnprotectedExecutor()([exe], cwd=box),
                                              runs, warmup),
            'isolated executor': sample_ms(lambda: IsolatedExecutor()(['./r'], cwd=box),
                                           runs, warmup),
            'exec job + comparator': sample_ms(lambda: _exec_job(tmp), runs, warmup),
        }
        print(f'cgroups: {cgroups.backend() or "none (rlimits)"}; bwrap: {shutil.which("bwrap")}')
        base = statistics.median(rows['plain fork+exec'])
        print(f'{"":24} {"median":>9} {"p95":>9} {"ratio":>7} {"+ms":>7}')
        for name, values in rows.items():
            median = statistics.median(values)
            print(f'{name:24} {median:9.2f} {p95(values):9.2f} {median / base:7.1f} '
                  f'{median - base:7.2f}')


if __name__ == '__main__':
    main()
