"""Any Ray cluster serves: a driver's own plain ray.init(), and nodes started
without sio's tags (probed once per node, remembered by the cluster)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio_ray import registry
from tests.cluster.conftest import head_args, state_address
from tests.conftest import wait_until

REPO = Path(__file__).resolve().parents[2]

PLAIN_DRIVER = r'''
import json, logging, sys
import ray
import sio_ray
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # the user's own Ray
jobs = [{'job_type': 'ping', 'ping': 1},
        {'job_type': 'test-echo', 'echo': 'boxed'},
        {'job_type': 'ping', 'ping': 2, 'ping_mem_limit': 1 << 40}]
print('SIO-TEST ' + json.dumps(sio_ray.run_many(jobs)), flush=True)
ref = sio_ray.submit({'job_type': 'test-echo', 'echo': 'now'})
print('SIO-TEST ' + json.dumps(ray.get(ref)), flush=True)
sio_ray.shutdown()
'''


def test_a_driver_with_its_own_plain_ray_init_gets_its_jobs_run():
    done = subprocess.run([sys.executable, '-c', PLAIN_DRIVER], cwd=REPO, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, 'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0'})
    lines = [json.loads(line.removeprefix('SIO-TEST ')) for line in done.stdout.splitlines()
             if line.startswith('SIO-TEST ')]
    assert len(lines) == 2, done.stdout + done.stderr
    ping, boxed, huge = lines[0]
    assert ping['result'] == 'SUCCESS' and ping['pong'] == 1
    # Isolated: after a probe of the untagged node found its sandbox working.
    assert boxed['result'] == 'SUCCESS' and boxed['echoed'] == 'boxed', boxed.get('exception')
    assert lines[1]['echoed'] == 'now'
    # Refused at once, in MiB, saying what to do.
    assert huge['result'] == 'FAILURE'
    assert '1073741824 MiB of memory' in huge['exception'], huge['exception']
    assert 'e+' not in huge['exception'] and "lower the job's limits" in huge['exception']
    # connect() looked at what it found and said what is missing.
    assert 'carry no sio tags' in done.stderr and 'probing what it can do' in done.stderr


@pytest.fixture(scope='module')
def untagged():
    """A head that runs nothing and two nodes started without sio's tags: one
    where boxes work, one without bubblewrap (its PATH has none)."""
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    able = cluster.add_node(num_cpus=1)
    unable = cluster.add_node(num_cpus=1,
                              env_vars={'PATH': str(Path(sys.executable).parent)})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield cluster, able.node_id, unable.node_id
    sio_ray.shutdown()
    cluster.shutdown()


def probes() -> list:
    from ray.util.state import list_tasks
    return [t for t in list_tasks(address=state_address(), limit=10000,
                                  raise_on_missing_output=False)
            if (t.name or '').startswith('sio-probe:')]


def test_untagged_nodes_get_plain_jobs_and_isolated_ones_where_a_probe_found_a_sandbox(untagged):
    cluster, able, unable = untagged
    isolated = [{'job_type': 'test-echo', 'echo': i, 'prefilters': ['test-node-id']}
                for i in range(6)]
    plain = [{'job_type': 'test-sleep', 'sleep': 0.5, 'prefilters': ['test-node-id']}
             for _ in range(6)]
    results = sio_ray.run_many(isolated + plain)
    assert all(r['result'] == 'SUCCESS' for r in results), [r.get('exception') for r in results]
    assert {r['ray_node_id'] for r in results[:6]} == {able}
    assert {r['ray_node_id'] for r in results[6:]} == {able, unable}
    # What the probes found is the cluster's: in its registry, for every driver.
    known = ray.get(registry.registry().node_tags.remote())
    assert known[able]['sio-sandbox'] == 'true' and known[unable]['sio-sandbox'] == 'false'
    # A second driver (a process of its own) uses it: no node is probed again.
    code = ("import sio_ray, sys\n"
            "sio_ray.connect(sys.argv[1])\n"
            "r = sio_ray.run({'job_type': 'test-echo', 'echo': 'again', "
            "'prefilters': ['test-node-id']})\n"
            "print('NODE', r['ray_node_id'], r['result'])\n")
    done = subprocess.run([sys.executable, '-c', code, cluster.address], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert f'NODE {able} SUCCESS' in done.stdout, done.stdout + done.stderr
    seen = wait_until(lambda: (p := probes()) and len(p) >= 2 and p, 60, 'no probe showed')
    assert sorted(t.node_id for t in seen) == sorted([able, unable]), seen  # once per node
