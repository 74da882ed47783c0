"""Nodes calibrated and compared on a real multi-node Ray (issue 11 §2): a node
slowed for real — its raylet, workers and their boxes under a cgroup CPU
quota while ``sio-ray calibrate`` runs — measures slower, the registry keeps
it, ``sio-ray status`` shows it, and cpu-exec jobs keep off it while other
jobs still use it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio_ray import calibration, registry, tags
from tests.cluster.conftest import head_args
from tests.cpu_quota import cpu_quota

SIO_RAY = str(Path(sys.executable).with_name('sio-ray'))
#: The slowed node's boxes get at most this much of one core.
QUOTA = 0.08


@pytest.fixture(scope='module')
def cluster():
    """A head that runs nothing and two judges with the real tags of this
    machine (not calibrated at start)."""
    labels = tags.node_labels()
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    fast = cluster.add_node(num_cpus=1, labels=labels)
    slow = cluster.add_node(num_cpus=1, labels=labels)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield fast, slow
    sio_ray.shutdown()
    cluster.shutdown()


def test_a_node_slowed_by_a_cpu_quota_calibrates_slower_and_gets_no_cpu_exec(
        cluster, programs, tmp_path, monkeypatch):
    fast, slow = cluster
    with cpu_quota(QUOTA) as group:
        group.add_tree(slow.all_processes['raylet'][0].process.pid)
        found = {n.node_id: n for n in calibration.calibrate(runs=3, timeout=300)}
    # (The quota is gone again: only the calibration ran under it.)
    assert {fast.node_id, slow.node_id} <= found.keys()
    quick, slowed = found[fast.node_id].calibration, found[slow.node_id].calibration
    assert quick is not None and slowed is not None, found
    print(f'\nfree node: {quick}\nnode under a {QUOTA:.0%} CPU quota: {slowed}')
    assert slowed.speed < 0.5 * quick.speed, (quick, slowed)
    assert slowed.wall_ms > 3 * slowed.cpu_ms  # it waited for the CPU; its CPU time did not grow
    recorded = registry.calibrations()
    assert recorded[slow.node_id]['speed'] == slowed.speed

    # This test is about speed: a shared test machine's noise varies with
    # whatever else runs (the noise rule has its unit tests).
    monkeypatch.setenv('SIO_RAY_NOISY_NODE_MARGIN', '100')
    (tmp_path / 'in').write_text('')
    job = {'use_filetracker': False, 'exe_file': str(programs['spin_cpu']),
           'in_file': str(tmp_path / 'in'), 'exec_time_limit': 5000,
           'prefilters': ['test-node-id']}
    timed = [{'job_type': 'cpu-exec', 'job_id': f'timed-{i}', **job} for i in range(4)]
    other = [{'job_type': 'exec', 'job_id': f'other-{i}', **job} for i in range(10)]
    results = sio_ray.run_many(timed[:2] + other + timed[2:])
    assert [r['result_code'] for r in results] == ['OK'] * len(results), \
        [r.get('exception') for r in results]
    on_timed = [r for r in results if r['job_type'] == 'cpu-exec']
    assert {r['ray_node_id'] for r in on_timed} == {fast.node_id}
    assert {r['node_speed_factor'] for r in on_timed} == {quick.speed}
    assert {r['ray_node_id'] for r in results if r['job_type'] == 'exec'} == \
        {fast.node_id, slow.node_id}
    assert {r['node_speed_factor'] for r in results if r['ray_node_id'] == slow.node_id} == \
        {slowed.speed}

    status = subprocess.run([SIO_RAY, 'status', '--address',
                             ray.get_runtime_context().gcs_address],
                            env={**os.environ, 'RAY_AUTH_MODE': 'disabled'},
                            capture_output=True, text=True, timeout=180)
    assert status.returncode == 0, status.stderr
    [line] = [line for line in status.stdout.splitlines() if line.startswith(slow.node_id)]
    assert f' {slowed.speed:.2f} ' in line and f' {slowed.noise:.3f} ' in line, status.stdout


def test_sio_ray_calibrate_records_every_node(cluster):
    done = subprocess.run([SIO_RAY, 'calibrate', '--runs', '2', '--address',
                           ray.get_runtime_context().gcs_address],
                          env={**os.environ, 'RAY_AUTH_MODE': 'disabled'},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for node in cluster:
        [line] = [line for line in done.stdout.splitlines() if line.startswith(node.node_id)]
        speed = float(line.split()[1])
        assert registry.calibrations()[node.node_id]['speed'] == pytest.approx(speed, abs=0.01)
