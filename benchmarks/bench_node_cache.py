"""The node cache server, printed as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_node_cache.py [--quick]

A real central ``filetracker-server`` and a real node cache server
(``launch_filetracker_server``: its own process) on loopback, for a 1 MiB and
a 100-byte file:

* a job's warm hit (read straight from the node store, no request) vs a plain
  local copy of the same file;
* a stock client's warm hit through the server (HTTP on loopback) vs the job's
  warm hit;
* a cold read through the node cache server vs a direct read from the central
  server without any cache;
* 20 concurrent jobs (processes) reading one new file: transfers from the
  central server (from its access log).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from filetracker.client import Client

from sio.workers import ft
from sio.workers.ftclient import NODE_CACHE_FILE, FiletrackerClient
from sio.workers.ftserver import CentralServer
from timing import median_ms, quick_flag, row


READER = '''
import sys, time
from sio.workers import ft
from sio.workers.util import TemporaryCwd
ft.init_instance(sys.argv[1])
while time.time() < float(sys.argv[3]):
    time.sleep(0.001)
with TemporaryCwd():
    ft.download({'in_file': sys.argv[2]}, 'in_file', 'in', add_to_cache=True)
'''


def main() -> None:
    quick = quick_flag()
    n = 50 if quick else 300
    k = 10 if quick else 40
    with tempfile.TemporaryDirectory() as tmp, CentralServer.start(Path(tmp, 'ft')) as central:
        tmp = Path(tmp)
        os.environ['SIO_FT_CACHE_DIR'] = str(tmp / 'node')
        node_url = ft.launch_filetracker_server(central.url)
        store = ft.cache_dir_for(central.url)
        try:
            origin = FiletrackerClient(central.url, tmp / 'origin')
            job = FiletrackerClient(central.url, store)
            stock = Client(remote_url=node_url, local_store=None)
            direct = FiletrackerClient(central.url, tmp / 'unused', use_node_cache=False)
            print(f'node cache server {node_url} in front of {central.url}')
            for label, size in (('1 MiB', 1 << 20), ('100 B', 100)):
                src = tmp / f'src-{size}'
                src.write_bytes(os.urandom(size))
                name = origin.put_file(f'/bench/{size}', src, to_local_store=False)
                job.get_file(name, tmp / 'dest')  # fills the node store
                warm = median_ms(lambda: job.get_file(name, tmp / 'dest'), n)
                row(f'{label} job warm hit (node store)', warm,
                    median_ms(lambda: shutil.copyfile(src, tmp / 'plain'), n),
                    'plain local copy')
                row(f'{label} stock client hit via server',
                    median_ms(lambda: stock.get_file(name, str(tmp / 'dest')), n), warm,
                    'job warm hit (node store)')
                cold_names = [origin.put_file(f'/bench/cold-{size}-{i}', src, to_local_store=False)
                              for i in range(2 * k + 2)]
                through_node = iter(cold_names[: k + 1])
                plain = iter(cold_names[k + 1:])
                row(f'{label} cold read through the server',
                    median_ms(lambda: job.get_file(next(through_node), tmp / 'dest'), k),
                    median_ms(lambda: direct.get_file(next(plain), tmp / 'dest',
                                                      add_to_cache=False), k),
                    'direct from central, no cache')
            src = tmp / 'shared'
            src.write_bytes(os.urandom(1 << 20))
            name = origin.put_file('/bench/shared.in', src, to_local_store=False)
            start_at = str(time.time() + 3)
            readers = [subprocess.Popen([sys.executable, '-c', READER, central.url, name, start_at])
                       for _ in range(20)]
            for reader in readers:
                reader.wait(120)
            time.sleep(0.5)
            gets = re.findall(r'"GET /files/bench/shared\.in HTTP/1\.1" 200 (\d+)',
                              central.log_path.read_text())
            print(f'  20 concurrent jobs reading one new 1 MiB file: '
                  f'{sum(int(b) > 0 for b in gets)} transfer(s) from the central server')
        finally:
            pid = json.loads((store / NODE_CACHE_FILE).read_text())['pid']
            os.kill(pid, signal.SIGTERM)


if __name__ == '__main__':
    main()
