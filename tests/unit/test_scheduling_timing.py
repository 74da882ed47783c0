"""Nodes calibrated and compared (issue 11 §2): which nodes a timed job
avoids, sio_ray.steadiness's rules and the plans they shape, on fake nodes (no Ray here)."""

from dataclasses import dataclass, field

from sio.workers.requirements import requirements
from sio_ray import tags
from sio_ray.nodes import NODE_ID_LABEL, Node
from sio_ray.scheduling import place, plan
from sio_ray.steadiness import Steadiness, calibration_of, timed_nodes, unsteady
from tests.unit import test_scheduling as scheduling_tests
from tests.unit.test_scheduling import FakeJob

GiB = 1 << 30


@dataclass(eq=False)
class TimedJob(FakeJob):
    timing: str | None = field(init=False)

    def __post_init__(self):
        super().__post_init__()
        self.timing = requirements(self.environ).timing


def node(name, speed=None, noise=0.02, cpus=2, instructions='false', sandbox='true',
         calibrated=None):
    labels = {tags.SANDBOX: sandbox, tags.INSTRUCTIONS: instructions}
    if speed is not None:
        labels.update({tags.SPEED: str(speed), tags.NOISE: str(noise)})
    return Node(name, labels=labels, resources={'CPU': cpus, 'memory': 8 * GiB},
                calibrated=calibrated)


def queue_of(*environs):
    return scheduling_tests.queue_of(*environs, kind=TimedJob)


def test_timed_jobs_are_declared_by_the_exec_jobs_themselves():
    assert requirements({'job_type': 'cpu-exec'}).timing == 'cpu'
    assert requirements({'job_type': 'sio2jail-exec'}).timing == 'instructions'
    assert requirements({'job_type': 'exec'}).timing is None
    assert requirements({'job_type': 'unsafe-exec'}).timing is None


def test_slow_and_noisy_nodes_are_those_far_from_the_clusters_median():
    nodes = [node('a', 1.0), node('b', 0.95), node('c', 0.7), node('d', 1.0, noise=0.3),
             node('new'), Node('head', labels={tags.SPEED: '0.1', tags.NOISE: '0'})]
    # median speed 0.975 (the head, without CPUs, and 'new', uncalibrated, do not count)
    assert unsteady(nodes) == ({'c'}, {'d'})
    assert unsteady(nodes, Steadiness(slow_ratio=0.5, noise_margin=0.5)) == (set(), set())
    assert unsteady([node('a', 1.0), node('c', 0.1)]) == ({'c'}, set())  # two: their mean
    assert unsteady([node('alone', 0.1)]) == (set(), set())  # nothing to compare with


def test_a_calibration_in_the_registry_overrides_the_start_labels():
    fast_then_slowed = node('a', 1.0, calibrated={tags.SPEED: '0.3', tags.NOISE: '0.05'})
    assert calibration_of(fast_then_slowed) == (0.3, 0.05)
    assert calibration_of(node('a', 1.0)) == (1.0, 0.02)
    assert calibration_of(node('never')) is None


def test_cpu_exec_drains_a_fast_node_and_leaves_the_slow_one_to_other_jobs():
    queue, jobs = queue_of({'job_type': 'cpu-exec', 'n': 0}, {'job_type': 'exec'},
                           {'job_type': 'cpu-exec', 'n': 1})
    nodes = [node('slow', 0.3), node('fast', 1.0), node('fast2', 0.9)]
    reserved = set()
    decided = plan(queue, nodes, reserved, slots=10)
    first, second, third = decided.dispatch
    assert first.node in ('fast', 'fast2') and third.node in ('fast', 'fast2')
    assert reserved == {'fast', 'fast2'}
    # Untimed jobs may use every node (the reserved ones excepted), by labels.
    assert second.options['label_selector'] == {tags.SANDBOX: 'true',
                                                NODE_ID_LABEL: f'!in({first.node})'}


def test_a_timed_job_waits_for_a_steady_node_rather_than_take_a_slow_one():
    queue, jobs = queue_of({'job_type': 'cpu-exec', 'n': 0}, {'job_type': 'cpu-exec', 'n': 1})
    reserved = set()
    decided = plan(queue, [node('slow', 0.3), node('fast', 1.0)], reserved, slots=10)
    assert [d.node for d in decided.dispatch] == ['fast']
    assert 'waits for a node able to run it to be free' in decided.waiting


def test_only_slow_or_noisy_nodes_able_to_run_it_still_take_it():
    # The fast node has no sandbox: the slow one is the only one able.
    queue, jobs = queue_of({'job_type': 'cpu-exec'})
    decided = plan(queue, [node('slow', 0.3), node('fast', 1.0, sandbox='false')], set(), 10)
    assert decided.dispatch[0].node == 'slow'
    # Slow beats noisy when one of the two must be taken: speed is left out first.
    nodes = [node('slow', 0.3, noise=0.01), node('noisy', 1.0, noise=0.5)]
    assert [n.node_id for n in timed_nodes('cpu', {'num_cpus': 1}, nodes)] == ['noisy']


def test_a_noisy_node_is_avoided_like_a_slow_one():
    queue, jobs = queue_of({'job_type': 'cpu-exec'})
    nodes = [node('noisy', 1.0, noise=0.4), node('quiet', 1.0, noise=0.02),
             node('quiet2', 0.98, noise=0.03)]
    assert plan(queue, nodes, set(), 10).dispatch[0].node in ('quiet', 'quiet2')


def test_sio2jail_exec_prefers_counters_then_steady_nodes_by_id():
    counting = [node('slow-counting', 0.3, instructions='true'), node('fast', 1.0),
                node('fast2', 1.0)]
    queue, jobs = queue_of({'job_type': 'sio2jail-exec'})
    [decision] = plan(queue, counting, set(), 10).dispatch
    # Instructions do not depend on the node's speed: the counting node first.
    assert decision.options['label_selector'] == {NODE_ID_LABEL: 'in(slow-counting)'}
    queue, jobs = queue_of({'job_type': 'sio2jail-exec'})
    [decision] = plan(queue, [node('slow', 0.3), node('fast', 1.0), node('fast2', 1.0)],
                      set(), 10).dispatch
    assert decision.options['label_selector'] == {NODE_ID_LABEL: 'in(fast,fast2)'}


def test_uncalibrated_clusters_place_as_before():
    queue, jobs = queue_of({'job_type': 'sio2jail-exec'})
    [decision] = plan(queue, [node('a'), node('b')], set(), 10).dispatch
    assert decision.options['label_selector'] == {tags.SANDBOX: 'true'}


def test_jobs_started_at_once_avoid_slow_nodes_too():
    nodes = [node('slow', 0.3), node('fast', 1.0)]
    options = TimedJob({'job_type': 'cpu-exec'}).options
    assert place(options, True, nodes, timing='cpu')['label_selector'] == {NODE_ID_LABEL: 'fast'}
    exec_options = TimedJob({'job_type': 'exec'}).options
    assert place(exec_options, False, nodes)['label_selector'] == {tags.SANDBOX: 'true'}
