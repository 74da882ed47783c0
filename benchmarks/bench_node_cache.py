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
  central server (from its access log; target: one).

What is compared is measured in turns (A B, B A, ...), so neither side gains
from its place in the run, and every copy is checked; the 20 readers start
together on a signal and must each read the file intact.
"""

from __future__ import annotations

import hashlib
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

from sio.demo.central import CentralServer
from sio.workers import ft
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.filetracker.registry import REGISTRY_FILE
from timing import interleaved_ms, quick_flag, row


READER = '''
import hashlib, sys
from sio.workers import ft
from sio.workers.util import TemporaryCwd
ft.init_instance(sys.argv[1])
print('ready', flush=True)
sys.stdin.readline()  # all start together
with TemporaryCwd():
    path = ft.download({'in_file': sys.argv[2]}, 'in_file', 'in', add_to_cache=True)
    with open(path, 'rb') as f:
        print('ok' if hashlib.sha256(f.read()).hexdigest() == sys.argv[3] else 'CORRUPT')
'''


def settled(path: Path, quiet: float = 0.3, limit: float = 30.0) -> str:
    """The file's text once it stopped growing (the access log is written
    after each response has gone out)."""
    deadline = time.monotonic() + limit
    last = None
    while (text := path.read_text()) != last and time.monotonic() < deadline:
        last = text
        time.sleep(quiet)
    return text


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
            print(f'node cache server {node_url} in front of {central.url} '
                  f'(pairs measured in turns, medians)')
            for label, size in (('1 MiB', 1 << 20), ('100 B', 100)):
                src = tmp / f'src-{size}'
                src.write_bytes(os.urandom(size))
                name = origin.put_file(f'/bench/{size}', src, to_local_store=False)
                job.get_file(name, tmp / 'dest')  # fills the node store
                warm = interleaved_ms({
                    'job': lambda: job.get_file(name, tmp / 'dest-job'),
                    'copy': lambda: shutil.copyfile(src, tmp / 'plain'),
                    'stock': lambda: stock.get_file(name, str(tmp / 'dest-stock')),
                }, n)
                for dest in ('dest-job', 'plain', 'dest-stock'):
                    assert (tmp / dest).read_bytes() == src.read_bytes(), dest
                row(f'{label} job warm hit (node store)', warm['job'], warm['copy'],
                    'plain local copy')
                row(f'{label} stock client hit via server', warm['stock'], warm['job'],
                    'job warm hit (node store)')
                cold_names = [origin.put_file(f'/bench/cold-{size}-{i}', src, to_local_store=False)
                              for i in range(2 * k + 2)]
                through_node = iter(cold_names[: k + 1])
                plain = iter(cold_names[k + 1:])
                cold = interleaved_ms({
                    'node': lambda: job.get_file(next(through_node), tmp / 'cold-node'),
                    'direct': lambda: direct.get_file(next(plain), tmp / 'cold-direct',
                                                      add_to_cache=False),
                }, k)
                for dest in ('cold-node', 'cold-direct'):
                    assert (tmp / dest).read_bytes() == src.read_bytes(), dest
                row(f'{label} cold read through the server', cold['node'], cold['direct'],
                    'direct from central, no cache')
            src = tmp / 'shared'
            src.write_bytes(os.urandom(1 << 20))
            digest = hashlib.sha256(src.read_bytes()).hexdigest()
            name = origin.put_file('/bench/shared.in', src, to_local_store=False)
            readers = [subprocess.Popen([sys.executable, '-c', READER, central.url, name, digest],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                       for _ in range(20)]
            for reader in readers:
                assert reader.stdout.readline().strip() == 'ready'
            for reader in readers:
                reader.stdin.write('go\n')
                reader.stdin.flush()
            answers = [reader.communicate(timeout=120)[0].strip() for reader in readers]
            failed = [(r.returncode, a) for r, a in zip(readers, answers)
                      if (r.returncode, a) != (0, 'ok')]
            assert not failed, f'readers failed: {failed}'
            gets = re.findall(r'"GET /files/bench/shared\.in HTTP/1\.1" 200 (\d+)',
                              settled(central.log_path))
            transfers = sum(int(b) > 0 for b in gets)
            print(f'  20 concurrent jobs reading one new 1 MiB file: all 20 read it intact, '
                  f'{transfers} transfer(s) from the central server (target 1) '
                  f'{"PASS" if transfers == 1 else "FAIL"}')
        finally:
            pid = json.loads((store / REGISTRY_FILE).read_text())['pid']
            os.kill(pid, signal.SIGTERM)


if __name__ == '__main__':
    main()
