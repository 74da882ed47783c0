"""Borderline runs on a Ray of one node (the embedded local Ray): the repeats
run on that node, and the result is the same as on a cluster."""

import ray

import sio_ray
from sio.workers import repeats
from tests.cluster.test_remeasure import assert_measured_on, spin


def test_on_one_node_the_repeats_run_on_that_node(local_ray, programs, tmp_path):
    [node] = [n['NodeID'] for n in ray.nodes() if n['Alive']]
    r = sio_ray.run(spin(programs, tmp_path, 950, 'borderline-one-node'))
    assert_measured_on(r, {node})
    assert r['ray_node_id_runs'] == [node] * 3
    clear = sio_ray.run(spin(programs, tmp_path, 50, 'clear-one-node'))
    assert clear['result_code'] == 'OK' and 'time_used_runs' not in clear
    assert not set(repeats.PROTOCOL) & set(clear)
