"""A node lost in the middle of a batch: its jobs run again elsewhere, and every
environ yields exactly one result."""

import threading
import time

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio_ray import tags
from tests.cluster.conftest import head_args, scrape_metrics, state_address
from tests.conftest import wait_until


@pytest.fixture(scope='module')
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    nodes = [cluster.add_node(num_cpus=2,
                              labels={tags.SANDBOX: 'true', tags.INSTRUCTIONS: 'false'})
             for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield cluster, nodes
    sio_ray.shutdown()
    cluster.shutdown()


def test_jobs_of_a_lost_node_are_rerun_and_delivered_once(cluster, tmp_path):
    cluster_obj, nodes = cluster
    victim = nodes[0]
    # Each job's worker says its pid once the job itself runs (a prefilter).
    jobs = [{'job_type': 'test-sleep', 'sleep': 3.0, 'job_id': f'loss-{i}',
             'prefilters': ['test-node-id', 'test-pid-file'],
             'pid_file': str(tmp_path / f'loss-{i}.pid')} for i in range(8)]
    results = []

    def remove_when_busy():
        from ray.util.state import list_tasks
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until a job runs on the victim
            started = {int(p.read_text()) for p in tmp_path.glob('*.pid') if p.read_text()}
            running = list_tasks(address=state_address(), filters=[('state', '=', 'RUNNING')],
                                 raise_on_missing_output=False)
            if any(t.node_id == victim.node_id and t.name == 'sio:test-sleep'
                   and t.worker_pid in started for t in running):
                break
            time.sleep(0.1)
        cluster_obj.remove_node(victim, allow_graceful=False)

    killer = threading.Thread(target=remove_when_busy)
    killer.start()
    for result in sio_ray.as_completed(jobs):
        results.append(result)
    killer.join()
    assert sorted(r['job_id'] for r in results) == sorted(j['job_id'] for j in jobs)
    assert all(r['result'] == 'SUCCESS' for r in results), [r.get('exception') for r in results]
    # Jobs running on the lost node were attempted again (Ray's retry of a system failure).
    from ray.util.state import list_tasks
    tasks = {r['ray_task_id']: r for r in results}

    def every_job_seen_finished():  # task events reach the GCS asynchronously
        attempts = [t for t in list_tasks(address=state_address(),
                                          filters=[('name', '=', 'sio:test-sleep')],
                                          detail=True, limit=1000,
                                          raise_on_missing_output=False) if t.task_id in tasks]
        finished = {t.task_id for t in attempts if t.state == 'FINISHED'}
        return attempts if finished == set(tasks) else None
    attempts = wait_until(every_job_seen_finished, 60, 'the finished attempts never showed')
    retried = {t.task_id for t in attempts if t.attempt_number > 0}
    assert retried
    assert all(tasks[task_id]['ray_node_id'] != victim.node_id for task_id in retried)
    # Counted by the driver's clock: the killed attempt had started (its pid
    # file), so the retry is its second start.
    assert scrape_metrics(['ray_sio_job_retries'])['ray_sio_job_retries'] > 0
