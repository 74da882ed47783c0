"""Core overheads, printed as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_core.py [--quick]

* ``run({'job_type': 'ping'})`` in-process vs the bare fresh job directory it
  needs (:class:`~sio.workers.util.TemporaryCwd` with ``chdir``);
* one ``sio-batch`` call (a new process) vs starting the interpreter (``python -c pass``);
* filetracker downloads of a 1 MiB and a 100-byte file: cold (through an empty
  node cache, from a real ``filetracker-server``) vs warm (cache hit), and the
  warm hit vs a plain local copy of the same file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sio.demo.central import CentralServer
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.ping import run as ping
from sio.workers.runner import run
from sio.workers.util import TemporaryCwd
from timing import median_ms, quick_flag, row


def main() -> None:
    quick = quick_flag()
    n = 200 if quick else 2000
    k = 5 if quick else 20

    print('runner')
    run({'job_type': 'ping', 'ping': 0})  # warm the plugin cache
    def bare_job_directory():
        with TemporaryCwd(chdir=True):
            ping({'job_type': 'ping', 'ping': 1})

    row('run(ping) in-process', median_ms(lambda: run({'job_type': 'ping', 'ping': 1}), n),
        median_ms(bare_job_directory, n), 'job directory + ping()')
    env = {**os.environ, 'environ': json.dumps({'job_type': 'ping', 'ping': 1})}
    sio_batch = str(Path(sys.executable).with_name('sio-batch'))
    row('sio-batch (new process)',
        median_ms(lambda: subprocess.run([sio_batch], env=env, capture_output=True, check=True), k),
        median_ms(lambda: subprocess.run([sys.executable, '-c', 'pass'], check=True), k),
        'python -c pass')

    print('filetracker download (real server on loopback)')
    with tempfile.TemporaryDirectory() as tmp, CentralServer.start(Path(tmp, 'ft')) as server:
        tmp = Path(tmp)
        uploader = FiletrackerClient(server.url, tmp / 'up')
        for label, size in (('1 MiB', 1 << 20), ('100 B', 100)):
            src = tmp / f'src-{size}'
            src.write_bytes(os.urandom(size))
            name = uploader.put_file(f'/bench/{size}', src, to_local_store=False)
            counter = iter(range(10**9))

            def cold():
                client = FiletrackerClient(server.url, tmp / f'cold-{next(counter)}')
                client.get_file(name, tmp / 'dest')

            warm_client = FiletrackerClient(server.url, tmp / 'warm')
            warm_client.get_file(name, tmp / 'dest')
            warm = median_ms(lambda: warm_client.get_file(name, tmp / 'dest'), n // 10)
            row(f'{label} warm (cache hit)', warm, median_ms(cold, k * 2),
                f'{label} cold (cache miss)')
            row(f'{label} warm (cache hit)', warm,
                median_ms(lambda: shutil.copyfile(src, tmp / 'plain-copy'), n // 10),
                f'{label} plain local copy')


if __name__ == '__main__':
    main()
