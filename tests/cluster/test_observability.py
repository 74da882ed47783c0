"""What a Ray user reads: metrics without "None" labels, queue lengths by
contest priority, node cache counters that count the jobs' own hits (a real
local Ray, a real filetracker server, the real `sio-ray status`)."""

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import ray

import sio_ray
from sio.workers.filetracker.client import FiletrackerClient
from tests.conftest import wait_until

SIO_RAY = str(Path(sys.executable).with_name('sio-ray'))


def metrics_text() -> str:
    port = ray.nodes()[0]['MetricsExportPort']
    return urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10).read().decode()


def test_metrics_have_no_none_labels_and_queues_are_counted_by_priority(local_ray, tmp_path):
    window = sio_ray.connect().dispatcher.window
    gate = tmp_path / 'gate'
    hold = [{'job_type': 'test-wait', 'wait_for': [str(gate)], 'wait_timeout': 120,
             'contest_priority': 9}] * window  # first: they fill the window
    waiting = [{'job_type': 'ping', 'ping': i, 'contest_priority': 7} for i in range(3)] + \
              [{'job_type': 'ping', 'ping': i, 'contest_priority': 2} for i in range(2)]
    futures = sio_ray.submit_many(hold)
    futures += sio_ray.submit_many(waiting)  # behind them, a full window: they wait
    try:
        def by_priority():
            found = dict(re.findall(r'^ray_sio_queue_length\{[^}]*contest_priority="(\d+)"[^}]*\} '
                                    r'([0-9.]+)$', metrics_text(), re.M))
            return found if found.get('7') == '3.0' and found.get('2') == '2.0' else None
        wait_until(by_priority, 60, 'the queue length by contest priority never showed')
    finally:
        gate.touch()
    results = [f.result(timeout=120) for f in futures]
    assert all(r['result'] == 'SUCCESS' for r in results)
    wait_until(lambda: re.search(r'^ray_sio_queue_length\{[^}]*contest_priority="7"[^}]*\} 0\.0$',
                                 metrics_text(), re.M), 60, 'the emptied queue never showed 0')

    def finished_pings():  # ping gives no result code: SUCCESS, never "None"
        return re.search(r'^ray_sio_jobs(?:_total)?\{[^}]*job_type="ping"[^}]*'
                         r'result_code="SUCCESS"', metrics_text(), re.M)
    wait_until(finished_pings, 60, 'the finished pings never showed')
    sio_lines = [line for line in metrics_text().splitlines() if line.startswith('ray_sio_')]
    assert sio_lines and not [line for line in sio_lines if '"None"' in line], sio_lines


def test_status_counts_the_jobs_own_node_cache_hits(local_ray, ft_server, tmp_path):
    (tmp_path / 'in').write_bytes(os.urandom(4096))
    name = FiletrackerClient(ft_server.url, tmp_path / 'origin').put_file(
        '/observability/in', tmp_path / 'in')
    jobs = [{'job_type': 'ft-check', 'filetracker_url': ft_server.url, 'in_file': name,
             'out_file': f'/observability/out{i}'} for i in range(5)]
    sio_ray.run_many(jobs[:1])  # the first fetches it into the node's cache
    results = sio_ray.run_many(jobs[1:])  # these read it straight from the store
    assert all(r['in_size'] == 4096 for r in results)

    def status():
        done = subprocess.run([SIO_RAY, 'status', '--address',
                               ray.get_runtime_context().gcs_address],
                              env={**os.environ, 'RAY_AUTH_MODE': 'disabled'},
                              capture_output=True, text=True, timeout=120)
        found = re.search(r'node cache \S+ on node \w+: (\d+) hits \((\d+) read by jobs '
                          r'straight from the store\), (\d+) misses', done.stdout)
        return found if found and int(found.group(2)) >= 4 else None
    found = wait_until(status, 120, 'the jobs\' own hits never showed in sio-ray status')
    hits, direct, misses = map(int, found.groups())
    assert hits >= direct >= 4 and misses >= 1
