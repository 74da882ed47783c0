"""Placement by node tags on a real multi-node Ray cluster on this machine."""

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio_ray import tags
from tests.cluster.conftest import head_args


@pytest.fixture(scope='module')
def cluster():
    """A head that runs nothing, a node with working sandboxes and one without."""
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    sandbox = cluster.add_node(num_cpus=1, labels={tags.SANDBOX: 'true',
                                                   tags.INSTRUCTIONS: 'false'})
    plain = cluster.add_node(num_cpus=1,
                             labels={tags.SANDBOX: 'false', tags.INSTRUCTIONS: 'false'})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield {'sandbox': sandbox.node_id, 'plain': plain.node_id}
    sio_ray.shutdown()
    cluster.shutdown()


def test_isolated_jobs_never_land_on_untagged_nodes(cluster):
    jobs = [{'job_type': 'test-echo', 'echo': i, 'prefilters': ['test-node-id']}
            for i in range(8)]
    results = sio_ray.run_many(jobs)
    assert {r['ray_node_id'] for r in results} == {cluster['sandbox']}


def test_unsandboxed_jobs_may_use_every_node(cluster):
    jobs = [{'job_type': 'test-sleep', 'sleep': 0.5, 'prefilters': ['test-node-id']}
            for _ in range(6)]
    nodes = {r['ray_node_id'] for r in sio_ray.run_many(jobs)}
    assert nodes == {cluster['sandbox'], cluster['plain']}


def test_a_job_no_node_can_serve_fails_promptly_naming_what_is_missing(cluster):
    result = sio_ray.run({'job_type': 'ping', 'ping': 1, 'ping_mem_limit': 1 << 40})
    assert result['result'] == 'FAILURE' and 'no node has the resources' in result['exception']
    assert 'memory' in result['exception']


def test_an_exclusive_job_runs_alone_on_its_node_and_is_not_starved(cluster):
    stream = [{'job_type': 'test-sleep', 'sleep': 0.3, 'prefilters': ['test-node-id']}
              for _ in range(30)]
    exclusive = {'job_type': 'test-exclusive', 'sleep': 0.5, 'prefilters': ['test-node-id']}
    results = sio_ray.run_many(stream[:10] + [exclusive] + stream[10:])
    alone = results[10]
    assert alone['result'] == 'SUCCESS'
    overlapping = [r for r in results[:10] + results[11:]
                   if r['ray_node_id'] == alone['ray_node_id']
                   and r['started'] < alone['ended'] and r['ended'] > alone['started']]
    assert overlapping == []
    # Not starved: it finished before the stream behind it did.
    assert alone['ended'] < max(r['ended'] for r in results[11:])
