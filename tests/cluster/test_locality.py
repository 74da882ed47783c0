"""Inputs read where they are cached (issue 11 §3), on a real three-node Ray
with a real central filetracker server: each node cache publishes what it
holds; a job whose input node X's cache holds goes to X while X has room,
and elsewhere when X is busy."""

import os
import time

import pytest
import ray
from ray.cluster_utils import Cluster

import sio_ray
from sio.workers.filetracker.client import FiletrackerClient
from sio.workers.filetracker.holdings import Holdings
from sio_ray import nodecache, registry, tags
from sio_ray.dispatcher import HOLDINGS_STALE
from sio_ray.task import run_job
from tests.cluster.conftest import head_args
from tests.conftest import put, wait_until


CACHES = {}  # node id -> its SIO_FT_CACHE_DIR


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    """A head that runs nothing and three one-CPU nodes, each with a cache
    directory of its own (as separate machines would have)."""
    cluster = Cluster(initialize_head=True, head_node_args=head_args())
    labels = tags.node_labels()
    nodes = []
    for i in range(3):
        cache = tmp_path_factory.mktemp(f'node{i}-ft-cache')
        nodes.append(cluster.add_node(num_cpus=1, labels=labels,
                                      env_vars={'SIO_FT_CACHE_DIR': str(cache)}).node_id)
        CACHES[nodes[-1]] = cache
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace='sio', log_to_driver=False)
    yield nodes
    sio_ray.shutdown()
    cluster.shutdown()


def reader(ft_server, in_file, sleep=0.0, **extra):
    return {'job_type': 'test-read', 'filetracker_url': ft_server.url, 'in_file': in_file,
            'sleep': sleep, **extra}


def held_on(node_id, url, name) -> bool:
    summary = ray.get(registry.registry().holdings.remote(), timeout=30).get(node_id, {}).get(url)
    return summary is not None and Holdings.from_dict(summary).holds(name)


@pytest.fixture
def cached_on_x(cluster, ft_server, request, tmp_path):
    """An input read once on node X (by the real job task, pinned there): X's
    cache holds it and has said so in the registry."""
    x = cluster[0]
    origin = FiletrackerClient(ft_server.url, tmp_path / 'oioioi-cache')
    in_file = put(origin, request, tmp_path, 'test.in', b'1 2 3\n' * 10_000)
    sio_ray.connect()
    first = ray.get(run_job.options(num_cpus=0, label_selector={'ray.io/node-id': x})
                    .remote(reader(ft_server, in_file)), timeout=120)
    assert first['result'] == 'SUCCESS', first.get('traceback')
    wait_until(lambda: held_on(x, ft_server.url, in_file), 30, 'X never published its holdings')
    # A dispatcher that read no holdings for HOLDINGS_STALE s waits for a fresh
    # answer before it places the next job: that job then knows X's.
    time.sleep(HOLDINGS_STALE + 0.5)
    return x, in_file


def test_jobs_reading_an_input_cached_on_x_go_to_x_while_x_has_room(
        cluster, ft_server, cached_on_x):
    x, in_file = cached_on_x
    for i in range(4):  # one at a time: X always has room
        result = sio_ray.run(reader(ft_server, in_file, job_id=f'room-{i}'))
        assert result['result'] == 'SUCCESS', result.get('traceback')
        assert result['ray_node_id'] == x, (i, cluster.index(result['ray_node_id']))
    # `sio-ray status` says how many files X's cache holds, as published.
    actor = ray.get_actor(nodecache.actor_name(x, ft_server.url), namespace='sio')
    described = ray.get(actor.describe.remote(), timeout=30)
    assert described['held_files'] >= 1
    assert f"holds {described['held_files']} files" in nodecache.summary(described)


def test_jobs_go_elsewhere_when_x_is_full(cluster, ft_server, cached_on_x, tmp_path):
    x, in_file = cached_on_x
    # Each job sent once the one before runs (sent together, two could be
    # put on X before either holds its CPU, and the second would wait there);
    # all three held running until the last has started.
    futures, release = [], tmp_path / 'release'
    for i in range(3):
        arrived = tmp_path / f'arrived-{i}'
        futures += sio_ray.submit_many([reader(ft_server, in_file, job_id=f'full-{i}',
                                               arrive=str(arrived), wait_for=[str(release)])])
        wait_until(arrived.exists, 120, f'job {i} never started')
    release.touch()
    results = [future.result() for future in futures]
    assert [r['result'] for r in results] == ['SUCCESS'] * 3
    nodes = [r['ray_node_id'] for r in results]
    assert x in nodes
    assert len(set(nodes)) == 3, [cluster.index(n) for n in nodes]  # none waited for X


def test_a_job_preferring_x_goes_elsewhere_when_x_is_busy_with_others_work(
        cluster, ft_server, cached_on_x, tmp_path):
    x, in_file = cached_on_x

    @ray.remote(num_cpus=1)
    def hog(release):
        while not os.path.exists(release):
            time.sleep(0.02)

    # X's CPU taken, until released, by work the driver does not know of (another driver's).
    release = tmp_path / 'release'
    busy = hog.options(label_selector={'ray.io/node-id': x}).remote(str(release))
    wait_until(lambda: ray.available_resources().get('CPU', 0) <= 2, 30, 'the hog never started')
    try:
        result = sio_ray.run(reader(ft_server, in_file, job_id='busy'))
        assert result['result'] == 'SUCCESS'
        assert result['ray_node_id'] != x  # it did not wait for X
    finally:
        release.touch()
        ray.get(busy, timeout=60)


def test_the_switch_turns_it_off(cluster, ft_server, cached_on_x, monkeypatch):
    dispatcher = sio_ray.connect().dispatcher
    assert dispatcher._locality() is not None
    monkeypatch.setenv('SIO_RAY_LOCALITY', '0')
    assert dispatcher._locality() is None
    x, in_file = cached_on_x
    result = sio_ray.run(reader(ft_server, in_file, job_id='off'))
    assert result['result'] == 'SUCCESS'  # placed as before: anywhere it may go


def test_a_node_cache_run_as_a_service_has_its_holdings_published(cluster, tmp_path):
    from ray.util.state import list_actors

    from sio.demo.central import CentralServer
    from sio.workers.filetracker.server import NodeCacheServer
    from sio.workers.filetracker.store import cache_dir_for
    z = cluster[2]
    # A central server of its own: Z's store for it is fresh, and filled by a
    # node cache server run as a service (here, by this process), not by Ray.
    with CentralServer.start(tmp_path / 'ft') as central:
        store = CACHES[z] / cache_dir_for(central.url).name
        with NodeCacheServer(central.url, cache_dir=store):
            origin = FiletrackerClient(central.url, tmp_path / 'oioioi-cache')
            (tmp_path / 'in').write_bytes(b'4 5 6\n')
            in_file = origin.put_file('/service/test.in', tmp_path / 'in', to_local_store=False)
            result = ray.get(run_job.options(num_cpus=0, label_selector={'ray.io/node-id': z})
                             .remote(reader(central, in_file)), timeout=120)
            assert result['result'] == 'SUCCESS', result.get('traceback')
            assert 'node_cache_error' not in result
            wait_until(lambda: held_on(z, central.url, in_file), 30,
                       "the service's holdings were never published")
    actors = {a.class_name for a in list_actors(
        address=ray.get_runtime_context().gcs_address, raise_on_missing_output=False,
        filters=[('state', '=', 'ALIVE')])}
    assert 'HoldingsPublisher' in actors
