"""The per-node filetracker cache on a real two-node Ray cluster with a real
central filetracker server: one central GET per node, whatever the number of jobs."""

import json
import os
import signal
import time

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio.demo.central import CentralServer
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.filetracker.registry import REGISTRY_FILE
from sio_ray import nodecache, tags
from tests.cluster.conftest import head_args, scrape_metrics
from tests.conftest import transfers, unique


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """A head that runs nothing and two sandbox nodes, each with a cache directory
    of its own (as separate machines would have)."""
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    caches = {}
    for i in range(2):
        cache = tmp_path_factory.mktemp(f'node{i}-ft-cache')
        node = cluster.add_node(num_cpus=1, labels=tags.node_labels(),
                                env_vars={'SIO_FT_CACHE_DIR': str(cache)})
        caches[node.node_id] = cache
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield cluster, caches
    sio_ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def origin(ft_server, tmp_path):
    return FiletrackerClient(ft_server.url, tmp_path / 'oioioi-cache')


def exec_jobs(ft_server, origin, programs, request, tmp_path, tag, count):
    (tmp_path / f'{tag}.in').write_bytes(os.urandom(64 * 1024))
    in_file = origin.put_file(unique(request, f'{tag}.in'), tmp_path / f'{tag}.in')
    exe_file = origin.put_file(unique(request, 'echo.e'), programs['echo'])
    jobs = [{'job_type': 'exec', 'filetracker_url': ft_server.url, 'exe_file': exe_file,
             'in_file': in_file, 'exec_time_limit': 5000, 'exec_mem_limit': 64 * 1024,
             'prefilters': ['test-node-id'], 'job_id': f'{tag}-{i}'} for i in range(count)]
    return jobs, in_file


def registered(cache_dir, remote_url):
    from sio.workers.ft import cache_dir_for
    name = cache_dir_for(remote_url).name
    return json.loads((cache_dir / name / REGISTRY_FILE).read_text())


def test_twenty_jobs_reading_one_input_make_one_central_get_per_node(
        cluster, ft_server, origin, programs, request, tmp_path):
    _, caches = cluster
    jobs, in_file = exec_jobs(ft_server, origin, programs, request, tmp_path, 'twenty', 20)
    results = sio_ray.run_many(jobs)
    assert [r['result_code'] for r in results] == ['OK'] * 20, results[0].get('traceback')
    nodes = {r['ray_node_id'] for r in results}
    assert nodes <= set(caches)
    assert transfers(ft_server, in_file.split('@')[0]) == len(nodes)
    for node_id in nodes:  # each node has one server, run by its actor
        actor = ray.get_actor(nodecache.actor_name(node_id, ft_server.url), namespace='sio')
        described = ray.get(actor.describe.remote())
        assert registered(caches[node_id], ft_server.url)['url'] == described['url']
        assert described['url'].startswith('http://127.0.0.1:')


def test_a_killed_node_cache_is_restarted_by_ray(cluster, ft_server, origin, programs,
                                                 request, tmp_path):
    _, caches = cluster
    jobs, _ = exec_jobs(ft_server, origin, programs, request, tmp_path, 'before', 4)
    results = sio_ray.run_many(jobs)
    node_id = results[0]['ray_node_id']
    actor = ray.get_actor(nodecache.actor_name(node_id, ft_server.url), namespace='sio')
    old = ray.get(actor.describe.remote())
    os.kill(old['pid'], signal.SIGKILL)
    jobs, in_file = exec_jobs(ft_server, origin, programs, request, tmp_path, 'after', 12)
    results = sio_ray.run_many(jobs)
    assert [r['result_code'] for r in results] == ['OK'] * 12, results[0].get('traceback')
    nodes = {r['ray_node_id'] for r in results}
    assert transfers(ft_server, in_file.split('@')[0]) == len(nodes)
    deadline = time.monotonic() + 30
    while True:  # the next job on that node finds the restarted server
        try:
            new = ray.get(actor.describe.remote(), timeout=10)
            if new['pid'] != old['pid']:
                break
        except ray.exceptions.RayError:
            pass
        assert time.monotonic() < deadline, 'the node cache actor was not restarted'
        time.sleep(0.5)
    sio_ray.run_many(exec_jobs(ft_server, origin, programs, request, tmp_path, 'later', 4)[0])
    assert registered(caches[node_id], ft_server.url)['pid'] == new['pid']


def test_cache_and_sandbox_metrics_reach_the_nodes_metrics(cluster, ft_server, origin,
                                                           programs, request, tmp_path):
    jobs, _ = exec_jobs(ft_server, origin, programs, request, tmp_path, 'metrics', 6)
    sio_ray.run_many(jobs)
    found = scrape_metrics(['ray_sio_ft_cache_hits', 'ray_sio_ft_cache_misses',
                            'ray_sio_ft_cache_miss_bytes', 'ray_sio_sandbox_overhead_seconds_count'])
    assert all(found.values()), found


def test_a_node_cache_that_cannot_start_is_named_in_the_result(cluster, request, tmp_path):
    _, caches = cluster
    from sio.workers.ft import cache_dir_for
    with CentralServer.start(tmp_path / 'central') as central:
        for cache in caches.values():  # where the server registers, something it cannot replace
            (cache / cache_dir_for(central.url).name / REGISTRY_FILE).mkdir(parents=True)
        origin = FiletrackerClient(central.url, tmp_path / 'oioioi-cache')
        (tmp_path / 'in').write_bytes(b'fetched by the job itself\n')
        in_file = origin.put_file(unique(request, 'in'), tmp_path / 'in', to_local_store=False)
        result = sio_ray.run({'job_type': 'ft-check', 'filetracker_url': central.url,
                              'in_file': in_file, 'out_file': unique(request, 'out')})
    assert result['result'] == 'SUCCESS', result.get('traceback')
    assert result['in_size'] == len(b'fetched by the job itself\n')
    assert result['node_cache_error'].startswith(f'no node cache server for {central.url}')
    assert 'IsADirectoryError' in result['node_cache_error'], result['node_cache_error']
    assert 'Traceback' not in result['node_cache_error']
