"""Elastic scale from queue depth, with Ray's real autoscaler (its fake
multi-node provider starts real raylets on this machine): a head that cannot
judge, a judge node type of 0 to 2 nodes; 40 jobs of a second each make the
autoscaler add judges up to the maximum, every result arrives once, and the
judges go after the idle timeout."""

import threading
import time

import pytest
import ray

import sio_ray
from sio_ray import tags
from tests.cluster.autoscaling import FakeAutoscalingCluster


@pytest.fixture
def autoscaling():
    cluster = FakeAutoscalingCluster(tags.node_labels(), min_workers=0, max_workers=2,
                                     idle_timeout_minutes=0.1).start()
    try:
        sio_ray.connect(cluster.address)
        yield cluster
    finally:
        sio_ray.shutdown()
        cluster.stop()


def test_queued_jobs_bring_judges_up_to_the_maximum_and_idle_ones_go(autoscaling):
    assert autoscaling.judges() == []  # the head runs nothing: no judging capacity
    seen, done = set(), threading.Event()

    def watch():  # which judges the autoscaler brought, and how many at once
        while not done.is_set():
            alive = {n['NodeID'] for n in autoscaling.judges()}
            seen.update(alive)
            watch.most = max(watch.most, len(alive))
            time.sleep(0.2)
    watch.most = 0
    watcher = threading.Thread(target=watch)
    watcher.start()
    jobs = [{'job_type': 'test-sleep', 'sleep': 1.0, 'job_id': f'elastic-{i}',
             'prefilters': ['test-node-id']} for i in range(40)]
    try:
        results = list(sio_ray.as_completed(jobs))  # they wait (not fail) for judges
    finally:
        done.set()
        watcher.join()
    assert sorted(r['job_id'] for r in results) == sorted(j['job_id'] for j in jobs)  # once each
    assert all(r['result'] == 'SUCCESS' for r in results), [r.get('exception') for r in results]
    assert watch.most == 2 and len(seen) >= 2  # up to the maximum, never beyond
    assert {r['ray_node_id'] for r in results} <= seen
    # The window followed the cluster (2 CPUs: its floor of 8), the demand was
    # cleared: the idle judges are released after the idle timeout (6 s).
    assert sio_ray.connect().dispatcher.window == 8
    autoscaling.wait_for_judges(0, timeout=180)
