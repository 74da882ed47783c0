"""What the Ray dashboard shows of sio jobs: tasks named by job type, the
job's id in the task's log.  Its Ray is a head of its own whose node agent (the
State API's log calls go through it) listens on a port of its own: a Ray started
by ``ray.init`` would take Ray's default agent port, which another Ray on this
machine may hold (then that node has no agent, and no logs to read)."""

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from tests.cluster.conftest import attempts_of, head_args
from tests.conftest import wait_until


@pytest.fixture(scope='module')
def own_agent_ray():
    cluster = Cluster(initialize_head=True, head_node_args=head_args(num_cpus=2))
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield
    sio_ray.shutdown()
    cluster.shutdown()


def test_jobs_are_named_for_the_dashboard(own_agent_ray):
    from ray.util.state import get_log, list_logs, summarize_tasks
    results = sio_ray.run_many([{'job_type': 'ping', 'ping': i, 'job_id': f'named-job-{i}'}
                                for i in range(3)])
    # Where it ran: Ray's node and task, beside upstream's worker (host name).
    assert all(r['ray_node_id'] == ray.nodes()[0]['NodeID'] for r in results)
    [task] = wait_until(lambda: [t for t in attempts_of(results[1]['ray_task_id'])
                                 if t.state == 'FINISHED'], 60, 'the task never showed')
    # Named by job type, so that `ray summary tasks` counts jobs by type ...
    assert task.name == 'sio:ping'
    address = ray.get_runtime_context().gcs_address

    def asked(call):  # the State API, once the node's agent answers (late on a loaded machine)
        try:
            return call()
        except Exception:
            return None
    summary = wait_until(lambda: (s := asked(lambda: summarize_tasks(
        address=address, raise_on_missing_output=False)) or {}
    ).get('cluster', {}).get('summary', {}).get('sio:ping', {}).get('state_counts', {}).get(
        'FINISHED', 0) >= 3 and s, 60, 'the summary never counted the 3 finished jobs')
    assert not any(':named-job-' in name for name in summary['cluster']['summary'])
    # ... the job's own id the first line of the task's log (the dashboard's task details).
    line = 'sio job named-job-1 (ping)'

    def task_log() -> str:
        return ''.join(get_log(address=address, task_id=results[1]['ray_task_id'],
                               suffix='err', timeout=60))

    def worker_log() -> str:
        # On a loaded machine Ray sometimes records an empty range of the
        # worker's log for a task: then the line is looked for in the log of
        # the worker that ran it, where the task's range would point.
        names = [name for found in list_logs(address=address, node_id=task.node_id,
                                             glob_filter=f'*{task.worker_id}*.err').values()
                 for name in found]
        return ''.join(''.join(get_log(address=address, node_id=task.node_id, filename=name,
                                       timeout=60)) for name in names)
    wait_until(lambda: any(line in (asked(read) or '') for read in (task_log, worker_log)), 120,
               'the job id is in neither the task log nor its worker log')
