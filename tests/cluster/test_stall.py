"""No silent stall: when the last node able to run some jobs dies, the driver
says so every few seconds (its log, `sio-ray status`), the other jobs go on,
and the stranded jobs come back as FAILURE after $SIO_RAY_STALL_TIMEOUT —
or run when such a node comes back.  Real multi-node Ray on this machine."""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio_ray import tags
from tests.cluster.conftest import head_args
from tests.conftest import wait_until

SIO_RAY = str(Path(sys.executable).with_name('sio-ray'))
BOXED = {tags.SANDBOX: 'true', tags.INSTRUCTIONS: 'false'}
PLAIN = {tags.SANDBOX: 'false', tags.INSTRUCTIONS: 'false'}


@pytest.fixture
def cluster():
    """A head that runs nothing, a node with boxes and one without."""
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    boxed = cluster.add_node(num_cpus=2, labels=BOXED)
    cluster.add_node(num_cpus=1, labels=PLAIN)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield cluster, boxed
    sio_ray.shutdown()
    cluster.shutdown()


def boxed_jobs(tmp_path: Path, n: int) -> list[dict]:
    """Isolated jobs that hold their node until the gate opens (each says when it started)."""
    return [{'job_type': 'test-boxed-wait', 'job_id': f'boxed-{i}',
             'arrive': str(tmp_path / f'arrived-{i}'), 'wait_for': [str(tmp_path / 'gate')],
             'wait_timeout': 600} for i in range(n)]


def lose_the_boxed_node(cluster, boxed, tmp_path):
    wait_until(lambda: (tmp_path / 'arrived-0').exists() and (tmp_path / 'arrived-1').exists(),
               120, 'the boxed jobs never started')
    cluster.remove_node(boxed, allow_graceful=False)


def test_jobs_stranded_by_a_dead_node_are_warned_about_then_fail_and_the_rest_run(
        cluster, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv('SIO_RAY_STALL_TIMEOUT', '20')
    caplog.set_level(logging.WARNING, logger='sio_ray.dispatcher')
    cluster, boxed = cluster
    futures = sio_ray.submit_many(boxed_jobs(tmp_path, 3))  # two run, one waits in Ray
    lose_the_boxed_node(cluster, boxed, tmp_path)
    lost_at = time.monotonic()
    # Jobs that need no box still run, on the node that is left.
    pings = sio_ray.run_many([{'job_type': 'ping', 'ping': i} for i in range(4)])
    assert [p['pong'] for p in pings] == [0, 1, 2, 3]
    # The driver's log says what is missing, every few seconds ...
    wait_until(lambda: sum('cannot be placed' in r.getMessage() for r in caplog.records) >= 2,
               60, 'no repeated warning in the driver log')
    warning = next(r.getMessage() for r in caplog.records if 'cannot be placed' in r.getMessage())
    assert '3 queued job(s)' in warning and 'sio-sandbox=true' in warning, warning
    # ... and so does `sio-ray status`, from any shell.
    done = subprocess.run([SIO_RAY, 'status', '--address', cluster.address],
                          env={**os.environ, 'RAY_AUTH_MODE': 'disabled'}, capture_output=True,
                          text=True, timeout=120)
    assert 'WARNING: 3 job(s) cannot be placed' in done.stdout, done.stdout + done.stderr
    assert 'sio-sandbox=true' in done.stdout and '$SIO_RAY_STALL_TIMEOUT' in done.stdout
    # After the bound, FAILURE naming what is missing and the bound.
    results = [f.result(timeout=120) for f in futures]
    assert time.monotonic() - lost_at >= 20 - 2
    assert [r['result'] for r in results] == ['FAILURE'] * 3
    for r in results:
        assert 'no node can do sio-sandbox=true' in r['exception'], r['exception']
        assert 'for 20 s ($SIO_RAY_STALL_TIMEOUT)' in r['exception'], r['exception']
    assert not any(f.ran for f in futures)  # a resumed batch runs them again


def test_stranded_jobs_run_when_a_node_able_to_run_them_joins(cluster, tmp_path, monkeypatch,
                                                              caplog):
    monkeypatch.setenv('SIO_RAY_STALL_TIMEOUT', '600')
    caplog.set_level(logging.WARNING, logger='sio_ray.dispatcher')
    cluster, boxed = cluster
    futures = sio_ray.submit_many(boxed_jobs(tmp_path, 3))
    lose_the_boxed_node(cluster, boxed, tmp_path)
    wait_until(lambda: any('cannot be placed' in r.getMessage() for r in caplog.records),
               60, 'no warning in the driver log')
    (tmp_path / 'gate').touch()
    replacement = cluster.add_node(num_cpus=2, labels=BOXED)
    results = [f.result(timeout=300) for f in futures]
    assert [r['result'] for r in results] == ['SUCCESS'] * 3, [r.get('exception') for r in results]
    assert all(f.ran for f in futures)
    del replacement
