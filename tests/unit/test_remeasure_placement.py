"""Where sio_ray sends a borderline job's repeats (sio_ray.remeasure's rules on
fake nodes, no Ray here)."""

from sio.workers import repeats
from sio_ray import remeasure, tags
from sio_ray.nodes import NODE_ID_LABEL, Node

GiB = 1 << 30
OPTIONS = {'num_cpus': 1, 'memory': GiB, 'label_selector': {tags.SANDBOX: 'true'}}


def node(name, sandbox='true', speed=None, alive=True):
    labels = {tags.SANDBOX: sandbox}
    if speed is not None:
        labels.update({tags.SPEED: str(speed), tags.NOISE: '0.02'})
    return Node(name, alive=alive, labels=labels, resources={'CPU': 2, 'memory': 8 * GiB})


def test_the_repeats_are_offered_only_where_two_nodes_can_run_the_job():
    environ = {'job_type': 'exec'}
    offered = {repeats.ELSEWHERE: True}
    two = [node('a'), node('b')]
    assert remeasure.first_environ(environ, 2, OPTIONS, None, two) == {**environ, **offered}
    assert remeasure.first_environ(environ, 0, OPTIONS, None, two) == environ  # may not repeat
    for one in ([node('a')], [node('a'), node('b', sandbox='false')],
                [node('a'), node('b', alive=False)]):
        assert remeasure.first_environ(environ, 2, OPTIONS, None, one) == environ
    # A timed job counts only the nodes its calibration lets it use.
    fast_and_slow = [node('a', speed=1.0), node('b', speed=1.0), node('c', speed=0.3)]
    assert repeats.ELSEWHERE in remeasure.first_environ(environ, 2, OPTIONS, 'cpu',
                                                        fast_and_slow)
    assert repeats.ELSEWHERE not in remeasure.first_environ(
        environ, 2, OPTIONS, 'cpu', [node('a', speed=1.0), node('c', speed=0.3)])


def test_a_repeat_goes_to_a_node_that_has_not_run_the_job_else_not_the_last():
    nodes = [node('a'), node('b'), node('c')]
    options, reserved = remeasure.placement(OPTIONS, False, None, nodes, ['a'], set())
    assert options['label_selector'] == {NODE_ID_LABEL: 'in(b,c)'} and reserved is None
    options, _ = remeasure.placement(OPTIONS, False, None, nodes, ['a', 'b', 'c'], set())
    assert options['label_selector'] == {NODE_ID_LABEL: 'in(a,b)'}
    options, _ = remeasure.placement(OPTIONS, False, None, nodes[:2], ['a', 'b'], set())
    assert options['label_selector'] == {NODE_ID_LABEL: 'in(a)'}
    # Nodes drained for exclusive jobs are left out; an exclusive repeat drains one.
    options, _ = remeasure.placement(OPTIONS, False, None, nodes, ['a'], {'b'})
    assert options['label_selector'] == {NODE_ID_LABEL: 'in(c)'}
    options, reserved = remeasure.placement(OPTIONS, True, None, nodes, ['a'], {'b'})
    assert reserved == 'c' and options['num_cpus'] == 2
    assert options['label_selector'] == {NODE_ID_LABEL: 'c'}
    assert remeasure.placement(OPTIONS, True, None, nodes, ['a'], {'a', 'b', 'c'}) is None


def test_more_runs_while_the_repeats_stay_borderline_up_to_the_bound():
    first = {repeats.WANTED: 2}
    assert not remeasure.wants_more([{}])  # not borderline
    assert remeasure.wants_more([first])
    assert not remeasure.wants_more([first, {repeats.AGAIN: False}])  # clearly under the band
    assert remeasure.wants_more([first, {repeats.AGAIN: True}])
    assert not remeasure.wants_more([first, {repeats.AGAIN: True}, {repeats.AGAIN: True}])


def test_runs_merged_into_one_result_naming_each_node():
    def run(ms, code, node, digest):
        return {'result': 'SUCCESS', 'result_code': code, 'time_used': ms,
                'time_used_runs': [ms], 'result_code_runs': [code], 'node_runs': ['host'],
                'ray_node_id': node, repeats.DIGEST: digest, repeats.ELSEWHERE: True}
    r = remeasure.merged([run(1000, 'TLE', 'a', None), run(960, 'OK', 'b', 'x'),
                          run(940, 'OK', 'a', 'y')])
    assert (r['time_used'], r['ray_node_id']) == (940, 'a')
    assert r['time_used_runs'] == [1000, 960, 940] and r['ray_node_id_runs'] == ['a', 'b', 'a']
    assert r['result_code_runs'] == ['TLE', 'OK', 'OK']
    assert r['outputs_differ_between_runs'] is True
    assert not set(repeats.PROTOCOL) & set(r)
    # Repeated on its node: each run's Ray node named all the same.
    local = remeasure.finished({'time_used_runs': [1, 2], 'ray_node_id': 'a',
                                repeats.ELSEWHERE: True})
    assert local == {'time_used_runs': [1, 2], 'ray_node_id': 'a', 'ray_node_id_runs': ['a', 'a']}
