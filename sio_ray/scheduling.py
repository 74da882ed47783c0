"""Which job next, onto which node: the dispatcher's decisions as a pure function.

:func:`plan` looks at the driver's :class:`~sio_ray.queue.PriorityQueue` and a
snapshot of the cluster (:class:`~sio_ray.nodes.Node`, built from ``ray.nodes()``
or by hand in tests) and says which jobs go to Ray now and with which
placement, which are refused because no node can ever run them, and why the
next one waits.
It calls no Ray and reads no clock, so its rules are tested on fake nodes, as
upstream tests its prioritizing scheduler without workers:

* jobs leave the queue in its order (:mod:`sio_ray.queue`), at most ``slots``
  of them per call;
* a job that needs an exclusive node (``cpu-exec``) *drains* one: the node
  able to run it that is idlest is reserved for it (the job is pinned there
  with ``ray.io/node-id``), and every other job is kept off reserved nodes
  (``ray.io/node-id: !in(...)``) until the exclusive job has finished — so
  the node empties and the exclusive job is not starved by later small jobs;
* the head of the queue waits (and every job behind it: the order is kept)
  when each node able to run it is reserved;
* a job is refused, once, when it arrives and no alive node can ever run it
  (missing label, too little memory or CPUs); the reason names what is missing;
* a queued job whose capable nodes are all gone is set aside (*stalled*), so
  that it does not hold up the jobs behind it; the dispatcher warns about it
  and fails it after a bound (:mod:`sio_ray.dispatcher`).
* a timed job (``timing``: ``cpu-exec``, ``sio2jail-exec``) avoids nodes
  much slower or much noisier than the cluster's median, as calibrated
  (:func:`sio_ray.steadiness.timed_nodes`), unless only such nodes can run
  it; instruction counting, where a node has counters, comes first.
* a job whose inputs a node's cache holds prefers, softly, that node
  (:func:`sio_ray.locality.preferred_node`, given a
  :class:`~sio_ray.locality.Locality`): it is sent there while the node has
  room and starts elsewhere when the node is busy; the order of the queue and
  the nodes a job may use stay as they are.

What a node can run is :mod:`sio_ray.nodes`; which nodes a timed job avoids,
:mod:`sio_ray.steadiness`; where inputs are cached, :mod:`sio_ray.locality`.

Queue items are the dispatcher's jobs: anything with ``options`` (Ray task
options: ``num_cpus``, ``memory``, ``resources``, ``label_selector``),
``exclusive`` and ``job_type`` (and, for locality, ``inputs``: ``(server URL,
file name, weight)`` of each file it reads,
:func:`sio.workers.filetracker.holdings.job_inputs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sio_ray.locality import Locality, preferred_node, with_preference
from sio_ray.nodes import (NODE_ID_LABEL, Node, can_run, fitted, has_labels, has_room, might_run,
                           missing)
from sio_ray.steadiness import timed_nodes


@dataclass
class Dispatch:
    """Hand ``job`` to Ray now with these ``options``; ``node`` is the node
    reserved for it (exclusive jobs); ``preferred`` the node it prefers, for
    its cached inputs."""

    job: Any
    options: dict
    node: str | None = None
    preferred: str | None = None


@dataclass
class Refusal:
    """``job`` can never run on this cluster: ``reason`` says why."""

    job: Any
    reason: str
    #: (Of a stalled job:) a node the autoscaler can add could run it.
    growable: bool = False


@dataclass
class Plan:
    dispatch: list[Dispatch] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    #: Why the head of the queue waits (None when nothing waits for a node).
    waiting: str | None = None
    #: Nodes whose tags are unknown (no labels, not probed): probe them.
    probe: list[str] = field(default_factory=list)
    #: Jobs taken out of the queue because no alive node can run them now
    #: (their capable nodes are gone), with the reason: they must not hold
    #: up the jobs behind them.
    stalled: list[Refusal] = field(default_factory=list)


def _idleness(node: Node) -> tuple:
    total = node.resources.get('CPU', 0)
    free = node.free.get('CPU', total) if node.free is not None else total
    return (free < total, -free)


def exclusive_node(options: Mapping, nodes: Sequence[Node], reserved: Iterable[str]) -> str | None:
    """The node to reserve for an exclusive job: one able to run it, not
    reserved already; idle ones first, then the one with most free CPUs, then
    in the order given.  None when every such node is reserved."""
    reserved = set(reserved)
    candidates = [n for n in nodes if n.node_id not in reserved and can_run(n, options)]
    if not candidates:
        return None
    return min(candidates, key=_idleness).node_id


def plan(queue, nodes: Sequence[Node], reserved: set[str], slots: int,
         arrived: Iterable[Any] = (), growable: Sequence[Node] = (),
         locality: 'Locality | None' = None) -> Plan:
    """Decide what to hand to Ray now.

    ``queue`` is the driver's :class:`~sio_ray.queue.PriorityQueue`; the jobs
    dispatched or refused are taken out of it.  ``reserved`` holds the nodes
    drained for exclusive jobs already in Ray; nodes this plan reserves are
    added to it (the caller frees a node when its exclusive job ends).
    ``slots`` is how many more jobs Ray may get.  ``arrived`` are the jobs
    queued since the last plan: each is checked, once, against the cluster
    and the nodes its autoscaler can add (``growable``: :meth:`~sio_ray.nodes.Node.of_type`);
    a job only such a node can run is set aside (stalled, ``growable``) to
    wait for one.

    A job is placed on the nodes known to be able to run it: by their labels
    where they carry sio's tags (a label selector, so Ray may use any such
    node), otherwise by the nodes' ids (``ray.io/node-id: in(...)``, nodes
    whose tags a probe found).  With ``locality``, a job whose inputs some
    node's cache holds prefers that node (:func:`~sio_ray.locality.preferred_node`).
    """
    load = dict(locality.load) if locality is not None else {}
    result = Plan(probe=[n.node_id for n in nodes
                         if n.alive and not n.known and n.resources.get('CPU', 0) > 0])
    refused = []
    every = [*nodes, *growable]
    for job in arrived:
        reason = missing(fitted(job.options, every), every)
        if reason is not None:
            refused.append(Refusal(job, reason))
    if refused:
        ids = {id(r.job) for r in refused}
        taken = {id(job) for job in queue.remove_if(lambda job: id(job) in ids)}
        result.refused = [r for r in refused if id(r.job) in taken]
    while queue and len(result.dispatch) < slots:
        job = queue.peek()
        options = fitted(job.options, nodes or every)
        node = None
        if not any(might_run(n, options) for n in nodes):
            queue.pop()  # no node for it now: set aside, let the others run
            grows = any(might_run(n, fitted(job.options, every)) for n in growable)
            result.stalled.append(Refusal(job, missing(options, nodes) or 'no alive node',
                                          growable=grows))
            continue
        allowed = timed_nodes(getattr(job, 'timing', None), options, nodes)
        preferred = None
        if job.exclusive:
            node = exclusive_node(options, allowed, reserved)
            if node is None:
                result.waiting = _why_waiting(job, options, allowed, reserved)
                break
            reserved.add(node)
            whole = next(n for n in nodes if n.node_id == node).resources.get('CPU', 1)
            # Every CPU of the node: Ray starts it only once the node is empty.
            options = {**options, 'num_cpus': whole, 'label_selector': {NODE_ID_LABEL: node}}
        else:
            eligible = [n for n in allowed if n.node_id not in reserved and can_run(n, options)]
            if not eligible:
                result.waiting = _why_waiting(job, options, allowed, reserved)
                break
            options = {**options, 'label_selector': _selector(options, eligible, reserved,
                                                              by_id=allowed is not nodes)}
            if not options['label_selector']:
                del options['label_selector']
            if locality is not None:
                preferred = preferred_node(getattr(job, 'inputs', ()), options, eligible,
                                           locality.held, load)
                if preferred is not None:
                    load[preferred] = load.get(preferred, 0) + options.get('num_cpus', 1)
                    options = with_preference(options, preferred)
        queue.pop()
        result.dispatch.append(Dispatch(job, options, node, preferred))
    return result


def place(options: dict, exclusive: bool, nodes: Sequence[Node],
          timing: str | None = None) -> dict | None:
    """Options for a task started at once (outside the queue), placed on the
    nodes known able to run it (an exclusive one on the idlest, whole; a
    timed one, ``timing``, by :func:`~sio_ray.steadiness.timed_nodes`); None when no such node is
    known."""
    options = fitted(options, nodes)
    allowed = timed_nodes(timing, options, nodes)
    if exclusive:
        node = exclusive_node(options, allowed, ())
        if node is None:
            return None
        whole = next(n for n in nodes if n.node_id == node).resources.get('CPU', 1)
        return {**options, 'num_cpus': whole, 'label_selector': {NODE_ID_LABEL: node}}
    eligible = [n for n in allowed if can_run(n, options)]
    if not eligible:
        return None
    options = {**options, 'label_selector': _selector(options, eligible, set(),
                                                      by_id=allowed is not nodes)}
    if not options['label_selector']:
        del options['label_selector']
    return options


def _selector(options: Mapping, eligible: Sequence[Node], reserved: set[str],
              by_id: bool = False) -> dict:
    """The label selector that keeps a task on ``eligible`` nodes (named by
    their ids with ``by_id``: other nodes with the same labels are avoided)."""
    wanted = {k: v for k, v in (options.get('label_selector') or {}).items()
              if k != NODE_ID_LABEL}
    if not by_id and all(has_labels(n, wanted, native=True) for n in eligible):
        # Every node able to run it says so in its labels: Ray may pick any
        # of them (reserved ones excepted).
        if reserved:
            return {**wanted, NODE_ID_LABEL: f"!in({','.join(sorted(reserved))})"}
        return wanted
    # Some are known able only by a probe: name the nodes.
    return {NODE_ID_LABEL: f"in({','.join(sorted(n.node_id for n in eligible))})"}


def _why_waiting(job, options: Mapping, nodes: Sequence[Node], reserved: set[str]) -> str:
    kind = f'{"an exclusive" if job.exclusive else "a"} {_kind(job)} job'
    able = [n for n in nodes if can_run(n, options)]
    if able and all(n.node_id in reserved for n in able):
        return (f'{kind} waits: every node able to run it is reserved for an exclusive job'
                if not job.exclusive else
                f'{kind} waits for a node able to run it to be free')
    unknown = [n for n in nodes if n.alive and not n.known and has_room(n, options)]
    if unknown:
        return f'{kind} waits for sio_ray to probe {len(unknown)} untagged node(s)'
    return f'{kind} waits for a node able to run it'


def _kind(job) -> str:
    job_type = getattr(job, 'job_type', None)
    return repr(job_type) if job_type else 'queued'
