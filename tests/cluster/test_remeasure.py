"""Borderline runs measured again on other nodes (sio_ray.remeasure) of a
real multi-node Ray: a borderline job's runs land on two different nodes and
come back as one result; a clear one runs once."""

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio.workers import repeats
from sio_ray import tags
from tests.cluster.conftest import head_args, tasks_named
from tests.conftest import wait_until


@pytest.fixture(scope='module')
def cluster():
    """A head that runs nothing and two judges of one CPU each."""
    labels = tags.node_labels()
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    nodes = [cluster.add_node(num_cpus=1, labels=labels) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield {node.node_id for node in nodes}
    sio_ray.shutdown()
    cluster.shutdown()


def spin(programs, tmp_path, ms: int, job_id: str, **extra) -> dict:
    (tmp_path / 'empty').write_text('')
    return {'job_type': extra.pop('job_type', 'exec'), 'job_id': job_id,
            'use_filetracker': False, 'exe_file': str(programs['spin_cpu']),
            'in_file': str(tmp_path / 'empty'), 'extra_execution_args': [str(ms)],
            'exec_time_limit': 1000, 'exec_real_time_limit': 60_000, **extra}


def interaction(programs, tmp_path, ms: int, job_id: str) -> dict:
    (tmp_path / f'in{ms}').write_text(f'{ms}\n')
    return {'job_type': 'interactive-exec', 'job_id': job_id, 'use_filetracker': False,
            'exe_file': str(programs['sol_spin_double']),
            'interactor_file': str(programs['interactor']), 'in_file': str(tmp_path / f'in{ms}'),
            'exec_time_limit': 1000, 'exec_real_time_limit': 60_000,
            'interactor_real_time_limit': 60_000}


def judged(r) -> int:
    ok = [t for t, code in zip(r['time_used_runs'], r['result_code_runs']) if code == 'OK']
    return min(ok or r['time_used_runs'])


def assert_measured_on(r, nodes):
    assert r['result'] == 'SUCCESS', r.get('traceback')
    runs = r['ray_node_id_runs']
    # 950 ms of 1000 stays borderline: three runs, the first two on different
    # nodes where there are two.
    assert len(r['time_used_runs']) == len(r['result_code_runs']) == len(runs) == 3
    assert set(runs) == nodes and (len(nodes) == 1 or runs[0] != runs[1]), runs
    assert len(r['node_runs']) == 3
    assert r['time_used'] == judged(r) >= 900
    assert r['ray_node_id'] == runs[r['time_used_runs'].index(r['time_used'])]
    assert r['result_code'] == ('OK' if 'OK' in r['result_code_runs'] else 'TLE')
    assert r['outputs_differ_between_runs'] is False
    assert not set(repeats.PROTOCOL) & set(r), set(repeats.PROTOCOL) & set(r)


def test_a_borderline_job_is_measured_on_two_nodes_a_clear_one_once(cluster, programs,
                                                                     tmp_path):
    before = len(tasks_named('sio:exec'))
    borderline, clear = sio_ray.run_many([spin(programs, tmp_path, 950, 'borderline'),
                                          spin(programs, tmp_path, 50, 'clear')])
    assert_measured_on(borderline, cluster)
    assert clear['result_code'] == 'OK' and 'time_used_runs' not in clear
    assert not set(repeats.PROTOCOL) & set(clear)
    # One Ray task for the clear job, three for the borderline one: no more.
    wait_until(lambda: len(tasks_named('sio:exec')) >= before + 4, 60, 'tasks never showed')
    assert len(tasks_named('sio:exec')) == before + 4


def test_an_exclusive_job_drains_the_other_node_for_its_repeat(cluster, programs, tmp_path):
    r = sio_ray.run(spin(programs, tmp_path, 950, 'borderline-cpu-exec', job_type='cpu-exec'))
    assert_measured_on(r, cluster)


def test_a_borderline_interaction_is_measured_on_two_nodes(cluster, programs, tmp_path):
    r = sio_ray.run(interaction(programs, tmp_path, 950, 'borderline-interactive'))
    assert_measured_on(r, cluster)
    if r['result_code'] == 'OK':
        assert r['result_string'] == 'all 1 correct'


def test_a_solution_too_slow_stays_tle_on_every_node(cluster, programs, tmp_path):
    r = sio_ray.run(spin(programs, tmp_path, 5000, 'too-slow', exec_time_limit=300))
    assert r['result_code'] == 'TLE' and r['result_code_runs'] == ['TLE'] * 3
    assert set(r['ray_node_id_runs']) == cluster



def test_a_repeat_waits_while_every_node_is_drained_for_exclusive_jobs(cluster, programs,
                                                                        tmp_path):
    # The borderline job runs first; two exclusive jobs then drain both nodes
    # (one waits for the borderline run to leave its node): its repeat finds
    # every node reserved, waits in the queue, and runs once one is free.
    borderline, *exclusive = sio_ray.run_many([
        spin(programs, tmp_path, 950, 'borderline-behind-drains'),
        *(spin(programs, tmp_path, 2000, f'drain-{i}', job_type='cpu-exec',
               exec_time_limit=10_000) for i in range(2))])
    assert_measured_on(borderline, cluster)
    for r in exclusive:
        assert r['result_code'] == 'OK' and 'time_used_runs' not in r
