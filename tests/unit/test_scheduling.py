"""Which job next, onto which node: sio_ray.scheduling.plan on fake nodes, as
upstream tests its prioritizing scheduler without workers (no Ray here)."""

import random
import subprocess
import sys
from dataclasses import dataclass, field

from sio_ray import placement, tags
from sio_ray.queue import PriorityQueue
from sio_ray.nodes import NODE_ID_LABEL, Node, missing
from sio_ray.scheduling import plan

GiB = 1 << 30


@dataclass(eq=False)
class FakeJob:
    environ: dict
    options: dict = field(init=False)
    exclusive: bool = field(init=False)

    def __post_init__(self):
        self.options = placement.task_options(self.environ)
        self.exclusive = self.environ['job_type'] == 'cpu-exec'

    @property
    def job_type(self):
        return self.environ['job_type']


def node(name, cpus=2, sandbox='true', memory=8 * GiB, free_cpus=None, alive=True,
         probed=None):
    """A node; ``sandbox=None``: one started without sio's tags (``probed``:
    what a probe found there, None: not probed yet)."""
    return Node(name, alive=alive, labels={} if sandbox is None else {tags.SANDBOX: sandbox},
                resources={'CPU': cpus, 'memory': memory},
                free=None if free_cpus is None else {'CPU': free_cpus}, probed=probed)


def queue_of(*environs, kind: type = FakeJob):
    """A queue of jobs of ``kind`` (a :class:`FakeJob`) for ``environs``, and the jobs."""
    queue = PriorityQueue(random.Random(0))
    jobs = [kind(e) for e in environs]
    for job in jobs:
        queue.push(job.environ, job)
    return queue, jobs


def test_jobs_leave_in_queue_order_up_to_the_free_slots():
    queue, jobs = queue_of({'job_type': 'ping', 'n': 0},
                           {'job_type': 'ping', 'n': 1, 'contest_priority': 5},
                           {'job_type': 'ping', 'n': 2})
    decided = plan(queue, [node('a')], set(), slots=2)
    assert [d.job for d in decided.dispatch] == [jobs[1], jobs[0]]
    assert len(queue) == 1 and decided.waiting is None and not decided.refused
    assert all(NODE_ID_LABEL not in (d.options.get('label_selector') or {})
               for d in decided.dispatch)


def test_an_exclusive_job_drains_the_idlest_able_node_and_others_keep_off_it():
    queue, jobs = queue_of({'job_type': 'cpu-exec'}, {'job_type': 'exec'}, {'job_type': 'ping'})
    nodes = [node('busy', free_cpus=0), node('idle', free_cpus=2), node('nosandbox', sandbox='false')]
    reserved = set()
    decided = plan(queue, nodes, reserved, slots=10)
    first, second, third = decided.dispatch
    assert first.job is jobs[0] and first.node == 'idle' and reserved == {'idle'}
    # Pinned there, asking every CPU of it: Ray starts it once the node is empty.
    assert first.options['label_selector'] == {NODE_ID_LABEL: 'idle'}
    assert first.options['num_cpus'] == 2
    assert second.options['label_selector'] == {tags.SANDBOX: 'true', NODE_ID_LABEL: '!in(idle)'}
    assert third.options['label_selector'] == {NODE_ID_LABEL: '!in(idle)'}


def test_a_second_exclusive_job_waits_and_keeps_everything_behind_it_waiting():
    queue, jobs = queue_of({'job_type': 'cpu-exec', 'task_priority': 9},
                           {'job_type': 'cpu-exec', 'task_priority': 8},
                           {'job_type': 'ping'})
    reserved = set()
    decided = plan(queue, [node('only'), node('plain', sandbox='false')], reserved, slots=10)
    assert [d.job for d in decided.dispatch] == [jobs[0]]
    assert 'exclusive' in decided.waiting and len(queue) == 2
    # Once the first has finished (its node freed), the second drains the node.
    reserved.clear()
    decided = plan(queue, [node('only'), node('plain', sandbox='false')], reserved, slots=10)
    assert [d.job for d in decided.dispatch] == [jobs[1], jobs[2]]
    assert decided.dispatch[1].options['label_selector'] == {NODE_ID_LABEL: '!in(only)'}


def test_a_job_whose_only_able_node_is_drained_waits_for_it():
    queue, jobs = queue_of({'job_type': 'exec'})
    decided = plan(queue, [node('a'), node('b', sandbox='false')], {'a'}, slots=4)
    assert decided.dispatch == [] and 'reserved for an exclusive job' in decided.waiting
    assert len(queue) == 1


def test_jobs_no_node_can_run_are_refused_when_they_arrive_naming_what_is_missing():
    queue, jobs = queue_of({'job_type': 'exec'}, {'job_type': 'ping', 'ping_mem_limit': 64 << 20},
                           {'job_type': 'ping'})
    decided = plan(queue, [node('a', sandbox='false')], set(), slots=4, arrived=jobs)
    reasons = {id(r.job): r.reason for r in decided.refused}
    assert 'no node can do sio-sandbox=true' in reasons[id(jobs[0])]
    assert '65536 MiB of memory' in reasons[id(jobs[1])]
    assert [d.job for d in decided.dispatch] == [jobs[2]] and not queue


def test_an_interactive_job_asks_no_more_cpus_than_the_largest_node_has():
    queue, jobs = queue_of({'job_type': 'interactive-exec', 'num_processes': 6})
    decided = plan(queue, [node('a', cpus=2), node('b', cpus=4)], set(), slots=1, arrived=jobs)
    assert decided.dispatch[0].options['num_cpus'] == 4 and not decided.refused


def test_missing_names_dead_clusters_and_resources():
    options = placement.task_options({'job_type': 'exec'})
    assert missing(options, [node('a', alive=False)]).startswith('no alive Ray node')
    assert missing(options, [node('a')]) is None
    assert '3 CPUs' in missing({**options, 'num_cpus': 3}, [node('a')])


def test_the_queue_and_the_scheduler_import_without_ray():
    code = ("import sys; sys.modules['ray'] = None\n"
            "import sio_ray.queue, sio_ray.scheduling, sio_ray\n"
            "assert 'ray' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_untagged_nodes_run_plain_jobs_and_isolated_ones_only_once_a_probe_vouched():
    queue, jobs = queue_of({'job_type': 'exec'}, {'job_type': 'ping'})
    unknown = [node('u1', sandbox=None), node('u2', sandbox=None), node('head', cpus=0,
                                                                          sandbox=None)]
    decided = plan(queue, unknown, set(), slots=4, arrived=jobs)
    # Not refused: the untagged nodes may do it; they are to be probed (not the head).
    assert not decided.refused and decided.probe == ['u1', 'u2']
    assert 'waits for sio_ray to probe 2 untagged node(s)' in decided.waiting
    assert decided.dispatch == [] and len(queue) == 2  # the order kept: ping waits behind
    probed = [node('u1', sandbox=None, probed={tags.SANDBOX: 'true'}),
              node('u2', sandbox=None, probed={tags.SANDBOX: 'false'}), unknown[2]]
    decided = plan(queue, probed, set(), slots=4)
    isolated, plain = decided.dispatch
    # Placed by node id where only a probe says so; plain jobs anywhere.
    assert isolated.options['label_selector'] == {NODE_ID_LABEL: 'in(u1)'}
    assert 'label_selector' not in plain.options and decided.probe == []


def test_tagged_nodes_are_chosen_by_their_labels_and_mixed_ones_by_id():
    queue, jobs = queue_of({'job_type': 'exec'}, {'job_type': 'exec'})
    nodes = [node('t'), node('p', sandbox=None, probed={tags.SANDBOX: 'true'})]
    first = plan(queue, [nodes[0], node('x', sandbox='false')], set(), slots=1).dispatch[0]
    assert first.options['label_selector'] == {tags.SANDBOX: 'true'}
    second = plan(queue, nodes, set(), slots=1).dispatch[0]
    assert second.options['label_selector'] == {NODE_ID_LABEL: 'in(p,t)'}


def test_an_exclusive_job_drains_a_probed_node_too():
    queue, jobs = queue_of({'job_type': 'cpu-exec'})
    decided = plan(queue, [node('p', cpus=4, sandbox=None, probed={tags.SANDBOX: 'true'})],
                   set(), slots=1)
    assert decided.dispatch[0].options['label_selector'] == {NODE_ID_LABEL: 'p'}
    assert decided.dispatch[0].options['num_cpus'] == 4


def test_a_cluster_known_unable_to_isolate_refuses_isolated_jobs():
    queue, jobs = queue_of({'job_type': 'exec'})
    decided = plan(queue, [node('p', sandbox=None, probed={tags.SANDBOX: 'false'})], set(),
                   slots=1, arrived=jobs)
    assert [r.job for r in decided.refused] == jobs and 'untagged (sio_ray probes it)' in \
        decided.refused[0].reason


def test_jobs_only_an_addable_node_can_run_wait_for_it():
    queue, jobs = queue_of({'job_type': 'exec'}, {'job_type': 'ping', 'ping_mem_limit': 1 << 30})
    head = node('head', cpus=0, sandbox=None)
    judge = Node.of_type('judge', {'resources': {'CPU': 8}, 'labels': {tags.SANDBOX: 'true'}})
    decided = plan(queue, [head], set(), slots=4, arrived=jobs, growable=[judge])
    # Both wait for a judge: the exec job needs its box, and the ping's 1 TiB
    # cannot be judged too much before a judge runs (node types declare no memory).
    assert not decided.refused and decided.dispatch == []
    assert [(s.job, s.growable) for s in decided.stalled] == [(jobs[0], True), (jobs[1], True)]
    # Without node types, nothing can run them: refused at once.
    queue, jobs = queue_of({'job_type': 'exec'})
    decided = plan(queue, [head], set(), slots=4, arrived=jobs)
    assert [r.job for r in decided.refused] == jobs
    # A node type without boxes does not help an isolated job.
    queue, jobs = queue_of({'job_type': 'exec'})
    plain = Node.of_type('plain', {'resources': {'CPU': 8}, 'labels': {tags.SANDBOX: 'false'}})
    decided = plan(queue, [head], set(), slots=4, arrived=jobs, growable=[plain])
    assert [r.job for r in decided.refused] == jobs


# -- inputs read where they are cached (issue 11 §3) ----------------------------

URL = 'http://ft.example:9999'


class ReadingJob(FakeJob):
    """A job whose inputs are named, as the dispatcher's jobs name theirs."""

    @property
    def inputs(self):
        from sio.workers.filetracker.holdings import job_inputs
        return job_inputs(self.environ)


def reading(test, submission=0, **extra):
    return {'job_type': 'exec', 'filetracker_url': URL, 'in_file': f'/p/{test}.in@1',
            'hint_file': f'/p/{test}.out@1', 'exe_file': f'/s/{submission}.e@2', **extra}


def reading_queue(*environs):
    return queue_of(*environs, kind=ReadingJob)


def held(**by_node):
    """``node=[names]`` -> what the planner gets: node -> URL -> summary."""
    from sio.workers.filetracker.holdings import Holdings
    return {n: {URL: Holdings.of(names)} for n, names in by_node.items()}


def preferred(decided):
    return [d.preferred for d in decided.dispatch]


def test_a_job_goes_to_the_node_whose_cache_holds_its_input():
    from sio_ray.locality import Locality
    queue, _ = reading_queue(reading(1), reading(2))
    nodes = [node('a'), node('b'), node('c')]
    decided = plan(queue, nodes, set(), slots=2,
                   locality=Locality(held(b=['/p/1.in@1', '/p/1.out@1'], c=['/p/2.in@1'])))
    assert preferred(decided) == ['b', 'c']
    first = decided.dispatch[0].options
    assert first['label_selector'] == {tags.SANDBOX: 'true', NODE_ID_LABEL: 'b'}
    # Softly: Ray may use any node the job could use when b has no room.
    assert first['fallback_strategy'] == [{'label_selector': {tags.SANDBOX: 'true'}}]


def test_the_test_data_outweighs_the_program():
    from sio_ray.locality import Locality
    queue, _ = reading_queue(reading(1, submission=7))
    decided = plan(queue, [node('a'), node('b')], set(), slots=1,
                   locality=Locality(held(a=['/s/7.e@2'], b=['/p/1.in@1'])))
    assert preferred(decided) == ['b']


def test_a_full_preferred_node_lets_the_job_go_elsewhere_and_the_queue_order_stays():
    from sio_ray.locality import Locality
    environs = [reading(1, n=i) for i in range(5)] + [reading(1, n=5, contest_priority=9)]
    queue, jobs = reading_queue(*environs)
    nodes = [node('a', cpus=2), node('b', cpus=2)]
    decided = plan(queue, nodes, set(), slots=6, locality=Locality(held(a=['/p/1.in@1'])))
    # The order of the queue, as without locality.
    assert [d.job for d in decided.dispatch] == [jobs[5], *jobs[:5]]
    # a has 2 CPUs: room for four jobs sent there for their inputs (two start,
    # two wait in Ray for the first free CPU, a's or b's); the others go
    # wherever Ray puts them: b does not idle.
    assert preferred(decided) == ['a', 'a', 'a', 'a', None, None]
    for d in decided.dispatch[4:]:
        assert NODE_ID_LABEL not in d.options.get('label_selector', {})
        assert 'fallback_strategy' not in d.options
    assert decided.waiting is None and not queue


def test_jobs_sent_for_their_inputs_already_in_ray_count_against_a_nodes_room():
    from sio_ray.locality import Locality
    queue, _ = reading_queue(reading(1), reading(1))
    nodes = [node('a', cpus=2), node('b', cpus=2)]
    both = held(a=['/p/1.in@1'], b=['/p/1.in@1'])
    decided = plan(queue, nodes, set(), slots=2, locality=Locality(both, load={'a': 1}))
    assert preferred(decided) == ['b', 'a']  # least loaded first, then a's last CPU
    queue, _ = reading_queue(reading(1))
    decided = plan(queue, nodes, set(), slots=1,
                   locality=Locality(both, load={'a': 4, 'b': 4}))
    assert preferred(decided) == [None]  # both full: wherever Ray puts it


def test_jobs_whose_inputs_no_node_holds_go_where_ray_puts_them():
    from sio_ray.locality import Locality
    queue, _ = reading_queue(*[reading(i) for i in range(6)])
    decided = plan(queue, [node('a'), node('b')], set(), slots=6,
                   locality=Locality(held(a=['/p/9.in@1']), load={'a': 2, 'b': 2}))
    assert preferred(decided) == [None] * 6 and decided.waiting is None


def test_the_options_say_which_node_a_task_prefers():
    from sio_ray.locality import preference_of, with_preference
    assert preference_of(with_preference({'label_selector': {'x': 'y'}}, 'a')) == 'a'
    assert preference_of({'label_selector': {NODE_ID_LABEL: 'a'}}) is None  # pinned, exclusive
    assert preference_of(None) is None


def test_a_reserved_node_is_not_preferred_and_stays_excluded():
    from sio_ray.locality import Locality
    queue, _ = reading_queue(reading(1))
    decided = plan(queue, [node('a'), node('b'), node('c')], {'a'}, slots=1,
                   locality=Locality(held(a=['/p/1.in@1'], c=['/p/1.in@1'])))
    assert preferred(decided) == ['c']
    assert decided.dispatch[0].options['fallback_strategy'] == [
        {'label_selector': {tags.SANDBOX: 'true', NODE_ID_LABEL: '!in(a)'}}]


def test_another_version_or_server_is_not_held():
    from sio_ray.locality import Locality
    queue, _ = reading_queue(reading(1), reading(2, filetracker_url='http://other:1'))
    decided = plan(queue, [node('a'), node('b')], set(), slots=2,
                   locality=Locality(held(a=['/p/1.in@0'], b=['/p/2.in@1'])))
    assert preferred(decided) == [None, None]


def test_without_locality_nothing_is_preferred():
    queue, _ = reading_queue(reading(1))
    decided = plan(queue, [node('a')], set(), slots=1)
    assert preferred(decided) == [None]
    assert 'fallback_strategy' not in decided.dispatch[0].options


def test_a_task_with_a_preference_stays_placeable_while_its_fallback_is():
    from sio_ray.locality import with_preference
    from sio_ray.nodes import placeable
    placed = with_preference({'num_cpus': 1, 'label_selector': {}}, 'a')
    assert placeable(placed, [node('a'), node('b')])
    assert placeable(placed, [node('a', alive=False), node('b')])  # a gone: b takes it
    assert not placeable(placed, [node('a', alive=False)])
