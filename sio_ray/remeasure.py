"""Borderline runs measured again on other nodes of the cluster.

A job that measures time repeats a borderline run (:mod:`sio.executors.remeasure`);
on one node its repeats share that node's noise.  Where the cluster has more
than one node able to run the job, the dispatcher offers to place them
(:mod:`sio.workers.repeats`, the job's side of the contract):

1. a job whose requirements say it may repeat (``Requirements.repeats``) is
   sent with ``remeasure_elsewhere`` when two or more alive nodes can run it
   (for a timed job, among the nodes its calibration lets it use:
   :func:`sio_ray.steadiness.timed_nodes`);
2. a first run that was borderline comes back asking for more runs; each
   repeat goes to a node that has not run the job yet, else to one other than
   the last run's (:func:`placement`), pinned by its Ray node id; an
   exclusive job's repeat drains that node as the first run's did;
3. the runs' results are merged into the job's one result (:func:`merged`):
   the fastest run's, with every measurement, the node of each (host names in
   ``node_runs``, Ray node ids in ``ray_node_id_runs``).

The caller, the journal and the gateway see only that one result.  A repeat
that fails or is lost (its node gone), or a job stopped at its bound during
a repeat, gives the result of the runs made so far; a cancelled job is
cancelled.  When no node can take a repeat now (every node able to run the
job drained for exclusive jobs), the job waits in the queue for its repeat,
which then goes to any node able to run it.  Jobs started outside the queue
(:func:`sio_ray.submit`), and every job on a cluster of one node, repeat on
their node.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from sio.workers import repeats
from sio_ray.nodes import NODE_ID_LABEL, Node, can_run, fitted
from sio_ray.scheduling import exclusive_node
from sio_ray.steadiness import timed_nodes

#: Ray node ids of the runs, beside ``node_runs`` (host names).
RAY_NODE_RUNS = 'ray_node_id_runs'


def able_nodes(options: Mapping, timing: str | None, nodes: Sequence[Node]) -> list[Node]:
    """The alive nodes of the cluster (not ones the autoscaler may add) that
    can run a job with ``options`` and, if it is timed, that its calibration
    lets it use."""
    options = fitted(dict(options), nodes)
    return [n for n in timed_nodes(timing, options, nodes)
            if n.alive and not n.virtual and can_run(n, options)]


def first_environ(environ: dict, repeatable: int, options: Mapping, timing: str | None,
                  nodes: Sequence[Node]) -> dict:
    """The environ a job's first run is sent with: offering to place its
    repeats elsewhere when it may repeat (``repeatable`` more runs) and two or
    more nodes can run it."""
    if repeatable and len(able_nodes(options, timing, nodes)) > 1:
        return {**environ, repeats.ELSEWHERE: True}
    return environ


def repeat_environ(environ: dict, runs: Sequence[dict]) -> dict:
    """The environ of the next repeat after ``runs``."""
    return {**environ, repeats.REPEAT: len(runs)}


def wants_more(runs: Sequence[dict]) -> bool:
    """Whether the job whose results so far are ``runs`` (first run first)
    wants another run."""
    done = len(runs) - 1
    if not runs or done >= repeats.wanted(runs[0]):
        return False
    return done == 0 or repeats.again(runs[-1])


def placement(options: Mapping, exclusive: bool, timing: str | None, nodes: Sequence[Node],
              used: Sequence[str | None], reserved: Collection[str]
              ) -> tuple[dict, str | None] | None:
    """Ray options for the next repeat, and the node it reserves (exclusive
    jobs), or None when no node can take it now.  ``used``: the Ray node ids
    of the runs so far, in order; ``reserved``: nodes drained for exclusive
    jobs.  Nodes that have not run the job come first, then any but the last
    run's, then any."""
    options = fitted(dict(options), nodes)
    able = [n for n in able_nodes(options, timing, nodes) if n.node_id not in reserved]
    last = used[-1] if used else None
    for pool in ([n for n in able if n.node_id not in used],
                 [n for n in able if n.node_id != last], able):
        if not pool:
            continue
        if exclusive:
            node = exclusive_node(options, pool, ())
            whole = next(n for n in pool if n.node_id == node).resources.get('CPU', 1)
            return {**options, 'num_cpus': whole, 'label_selector': {NODE_ID_LABEL: node}}, node
        ids = ','.join(sorted(n.node_id for n in pool))
        return {**options, 'label_selector': {NODE_ID_LABEL: f'in({ids})'}}, None
    return None


def finished(result: dict) -> dict:
    """A job's result as delivered: the protocol's keys removed and, after
    runs repeated on its node, the Ray node id of each."""
    result = repeats.strip(result)
    if 'time_used_runs' in result and RAY_NODE_RUNS not in result:
        result[RAY_NODE_RUNS] = [result.get('ray_node_id')] * len(result['time_used_runs'])
    return result


def merged(runs: Sequence[dict]) -> dict:
    """The one result of a job whose runs (their results, first run first)
    were made on several nodes (:func:`sio.workers.repeats.merge`), with
    ``ray_node_id_runs``."""
    result = repeats.merge(list(runs))
    result[RAY_NODE_RUNS] = [run.get('ray_node_id') for run in runs]
    return result
