"""The OIOIOI gateway's cost against sio_ray called directly, in one run.

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_gateway.py [--quick]

Starts a local Ray in this process and ``sio-ray gateway`` (the real command)
joined to it, then measures:

1. round trip of a one-``ping`` group: ``sync_run_group`` over XML-RPC vs
   ``sio_ray.run`` of the same ping in this process (medians);
2. throughput with 20 concurrent XML-RPC clients: one-``ping`` groups per
   second through ``sync_run_group``, and through ``run_group`` with every
   result POSTed back to a local receiver, vs 20 threads calling
   ``sio_ray.run``;
3. memory: a fresh gateway whose window is held by jobs waiting on a file
   (the test plugin's ``test-wait``: install ``tests/plugin``, as
   ``scripts/test.sh`` does), then 100 000 ``ping`` jobs queued through
   ``run_group`` (1000 groups of 100); the growth of the gateway's resident
   memory per queued job, and how fast they were accepted.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault('RAY_AUTH_MODE', 'disabled')  # a throwaway local Ray

import ray  # noqa: E402

import sio_ray  # noqa: E402

BIN = Path(sys.executable).parent
CLIENTS = 20


class Gateway:
    def __init__(self, state: Path, *args: str):
        self.log = open(state.with_suffix('.log'), 'wb')
        self.process = subprocess.Popen(
            [str(BIN / 'sio-ray'), 'gateway', '--address', ray.get_runtime_context().gcs_address,
             '--port', '0', '--state-dir', str(state), '--log-level', 'WARNING', *args],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        if 'serving' not in line:
            raise SystemExit(f'the gateway did not start; see {self.log.name}')
        self.url = line.split('serving ')[1].split()[0]

    def proxy(self) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(self.url, allow_none=True)

    def rss_kib(self) -> int:
        for line in Path(f'/proc/{self.process.pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
        raise RuntimeError('no VmRSS')

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)
        self.log.close()


class Receiver:
    """Counts the POSTed results (answers 200)."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.expected = None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers['Content-Length']))
                self.send_response(200)
                self.send_header('Content-Length', '0')
                self.end_headers()
                with receiver.lock:
                    receiver.count += 1
                    if receiver.expected is not None and receiver.count >= receiver.expected:
                        receiver.done.set()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/'


def ping_group(i: int, n: int = 1, **top) -> str:
    return json.dumps({'oioioi_instance': 'bench', 'contest_id': 'c', 'contest_priority': 10,
                       'contest_weight': 1000, **top,
                       'workers_jobs': {str(k): {'job_type': 'ping', 'ping': i * n + k}
                                        for k in range(n)}})


def median_ms(fn, runs: int) -> float:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def concurrently(fn, calls: int) -> float:
    """Calls per second of ``fn(i)`` from CLIENTS threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(fn, range(calls)))
    return calls / (time.perf_counter() - start)


def round_trip(gateway: Gateway, runs: int) -> None:
    proxy = gateway.proxy()

    def through_gateway(i):
        result = proxy.sync_run_group(ping_group(i))
        assert result['workers_jobs.results']['0']['pong'] == i

    def direct(i):
        assert sio_ray.run({'job_type': 'ping', 'ping': i})['pong'] == i

    for i in range(20):  # warm both paths
        through_gateway(i), direct(i)
    gateway_ms, direct_ms = median_ms(through_gateway, runs), median_ms(direct, runs)
    print(f'1. one-ping group, round trip (median of {runs}):')
    print(f'   gateway sync_run_group {gateway_ms:7.2f} ms   sio_ray.run {direct_ms:7.2f} ms   '
          f'overhead {gateway_ms - direct_ms:6.2f} ms   ratio {gateway_ms / direct_ms:5.2f}')


def throughput(gateway: Gateway, calls: int) -> None:
    local = threading.local()

    def proxy():
        if not hasattr(local, 'proxy'):
            local.proxy = gateway.proxy()
        return local.proxy

    def sync_group(i):
        assert proxy().sync_run_group(ping_group(i))['workers_jobs.results']['0']['pong'] == i

    def direct(i):
        assert sio_ray.run({'job_type': 'ping', 'ping': i})['pong'] == i

    receiver = Receiver()
    receiver.expected = calls
    sync_rate = concurrently(sync_group, calls)
    direct_rate = concurrently(direct, calls)
    start = time.perf_counter()
    concurrently(lambda i: proxy().run_group(ping_group(i, return_url=receiver.url)), calls)
    accepted = calls / (time.perf_counter() - start)
    if not receiver.done.wait(300):
        raise SystemExit(f'only {receiver.count} of {calls} results came back')
    async_rate = calls / (time.perf_counter() - start)
    receiver.server.shutdown()
    print(f'2. {CLIENTS} concurrent clients, {calls} one-ping groups each way:')
    print(f'   gateway sync_run_group       {sync_rate:7.1f} groups/s   sio_ray.run from '
          f'{CLIENTS} threads {direct_rate:7.1f} jobs/s   ratio {sync_rate / direct_rate:5.2f}')
    print(f'   gateway run_group + callback {async_rate:7.1f} groups/s   (accepted at '
          f'{accepted:.0f} groups/s)   ratio {async_rate / direct_rate:5.2f}')


def memory(tmp: Path, jobs: int, per_group: int) -> None:
    gate = tmp / 'gate'
    gateway = Gateway(tmp / 'state-memory', '--window', '2')
    try:
        proxy = gateway.proxy()
        receiver = Receiver()
        arrived = [tmp / f'arrived-{i}' for i in range(2)]
        proxy.run_group(json.dumps({'return_url': receiver.url, 'workers_jobs': {
            str(i): {'job_type': 'test-wait', 'arrive': str(a), 'wait_for': [str(gate)],
                     'wait_timeout': 3600} for i, a in enumerate(arrived)}}))
        deadline = time.monotonic() + 120
        while not all(a.exists() for a in arrived):
            if time.monotonic() > deadline:
                raise SystemExit('the jobs holding the window never started (is the test '
                                 'plugin installed?)')
            time.sleep(0.1)
        # Warm the accepting path (and its allocator) with one round, then measure.
        groups = jobs // per_group
        warm = max(groups // 100, 1)
        concurrently(lambda i: gateway.proxy().run_group(
            ping_group(i, per_group, return_url=receiver.url)), warm)
        before = gateway.rss_kib()
        local = threading.local()

        def submit(i):
            if not hasattr(local, 'proxy'):
                local.proxy = gateway.proxy()
            local.proxy.run_group(ping_group(i, per_group, return_url=receiver.url))

        rate = concurrently(submit, groups) * per_group
        time.sleep(1)
        after = gateway.rss_kib()
        queue = proxy.get_queue()
        assert queue['queued_jobs'] == (groups + warm) * per_group, queue['queued_jobs']
        database = sum(f.stat().st_size for f in (tmp / 'state-memory').iterdir())
        per_job = (after - before) * 1024 / (groups * per_group)
        print(f'3. {groups * per_group} ping jobs queued ({groups} run_group calls of {per_group}, '
              f'{CLIENTS} clients), the window held by 2 waiting jobs:')
        print(f'   gateway resident memory {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB: '
              f'{per_job:.0f} bytes per queued job (target: at most 2048)')
        print(f"   accepted at {rate:.0f} jobs/s; state database {database / 2**20:.0f} MiB "
              f"({database / (groups * per_group):.0f} bytes per job); "
              f"{queue['queued_jobs']} jobs queued")
    finally:
        gate.touch()
        gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer repetitions, 10 000 jobs')
    args = parser.parse_args()
    runs, calls, jobs = (50, 200, 10_000) if args.quick else (300, 1000, 100_000)
    tmp = Path(tempfile.mkdtemp(prefix='bench-gateway-'))
    try:
        sio_ray.connect()
        print(f'local Ray: {ray.cluster_resources().get("CPU", 0):g} CPUs')
        gateway = Gateway(tmp / 'state')
        try:
            round_trip(gateway, runs)
            throughput(gateway, calls)
        finally:
            gateway.stop()
        memory(tmp, jobs, 100)
    finally:
        sio_ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
