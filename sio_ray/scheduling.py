"""Which job next, onto which node: the dispatcher's decisions as a pure function.

:func:`plan` looks at the driver's :class:`~sio_ray.queue.PriorityQueue` and a
snapshot of the cluster (:class:`Node`, built from ``ray.nodes()`` or by hand
in tests) and says which jobs go to Ray now and with which placement, which
are refused because no node can ever run them, and why the next one waits.
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
  (missing label, too little memory or CPUs); the reason names what is missing.

Queue items are the dispatcher's jobs: anything with ``options`` (Ray task
options: ``num_cpus``, ``memory``, ``resources``, ``label_selector``),
``exclusive`` and ``job_type``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NODE_ID_LABEL = 'ray.io/node-id'
_MIB = 1 << 20


@dataclass(frozen=True)
class Node:
    """One node of the cluster as the scheduler sees it."""

    node_id: str
    alive: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Total resources (``CPU``, ``memory`` in bytes, custom ones).
    resources: Mapping[str, float] = field(default_factory=dict)
    #: Free resources, where known (the idlest node is drained first).
    free: Mapping[str, float] | None = None

    @classmethod
    def from_ray(cls, entry: dict, free: Mapping[str, float] | None = None) -> 'Node':
        """From one entry of ``ray.nodes()``."""
        return cls(node_id=entry['NodeID'], alive=bool(entry.get('Alive')),
                   labels=dict(entry.get('Labels') or {}),
                   resources=dict(entry.get('Resources') or {}), free=free)


@dataclass
class Dispatch:
    """Hand ``job`` to Ray now with these ``options``; ``node`` is the node
    reserved for it (exclusive jobs)."""

    job: Any
    options: dict
    node: str | None = None


@dataclass
class Refusal:
    """``job`` can never run on this cluster: ``reason`` says why."""

    job: Any
    reason: str


@dataclass
class Plan:
    dispatch: list[Dispatch] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    #: Why the head of the queue waits (None when nothing waits for a node).
    waiting: str | None = None


def has_labels(node: Node, selector: Mapping[str, str]) -> bool:
    """Whether ``node`` carries every ``label: value`` of ``selector`` (the
    node-id label is placement, not capability, and is not looked at)."""
    return all(node.labels.get(key) == value for key, value in selector.items()
               if key != NODE_ID_LABEL)


def needs(options: Mapping) -> dict[str, float]:
    """The resources a task with ``options`` asks for, by Ray's names."""
    return {'CPU': options.get('num_cpus', 1), 'memory': options.get('memory', 0),
            **(options.get('resources') or {})}


def can_run(node: Node, options: Mapping) -> bool:
    """Whether ``node`` (alive) could ever run a task with ``options``."""
    return node.alive and has_labels(node, options.get('label_selector') or {}) and \
        all(node.resources.get(name, 0) >= amount for name, amount in needs(options).items()
            if amount)


def fitted(options: dict, nodes: Sequence[Node]) -> dict:
    """Ask for no more CPUs than the largest alive node has (an interactive job
    with many processes still runs, sharing the node's cores)."""
    largest = max((n.resources.get('CPU', 0) for n in nodes if n.alive), default=0)
    if largest and options.get('num_cpus', 1) > largest:
        return {**options, 'num_cpus': largest}
    return options


def _amount(name: str, amount: float) -> str:
    if name == 'memory':
        return f'memory {amount / _MIB:.0f} MiB'
    return f'{name} {amount:g}'


def missing(options: Mapping, nodes: Sequence[Node]) -> str | None:
    """Why no alive node can ever run a task with ``options``, or None if one can."""
    alive = [n for n in nodes if n.alive]
    if not alive:
        return 'no alive Ray node'
    selector = {k: v for k, v in (options.get('label_selector') or {}).items()
                if k != NODE_ID_LABEL}
    labelled = [n for n in alive if has_labels(n, selector)]
    if not labelled:
        wanted = ', '.join(f'{k}={v}' for k, v in selector.items())
        return (f'no node with {wanted} (isolated sandbox unavailable; nodes get their tags '
                'from `sio-ray node-args` at `ray start`, or from sio_ray.connect() starting '
                'a local Ray)')
    if any(can_run(n, options) for n in labelled):
        return None
    short = ', '.join(_amount(name, amount) for name, amount in needs(options).items())
    return f'no node has the resources this job needs ({short})'


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
         arrived: Iterable[Any] = ()) -> Plan:
    """Decide what to hand to Ray now.

    ``queue`` is the driver's :class:`~sio_ray.queue.PriorityQueue`; the jobs
    dispatched or refused are taken out of it.  ``reserved`` holds the nodes
    drained for exclusive jobs already in Ray; nodes this plan reserves are
    added to it (the caller frees a node when its exclusive job ends).
    ``slots`` is how many more jobs Ray may get.  ``arrived`` are the jobs
    queued since the last plan: each is checked, once, against the cluster.
    """
    result = Plan()
    refused = []
    for job in arrived:
        reason = missing(fitted(job.options, nodes), nodes)
        if reason is not None:
            refused.append(Refusal(job, reason))
    if refused:
        ids = {id(r.job) for r in refused}
        taken = {id(job) for job in queue.remove_if(lambda job: id(job) in ids)}
        result.refused = [r for r in refused if id(r.job) in taken]
    while queue and len(result.dispatch) < slots:
        job = queue.peek()
        options = fitted(job.options, nodes)
        selector = dict(options.get('label_selector') or {})
        node = None
        if job.exclusive:
            node = exclusive_node(options, nodes, reserved)
            if node is None:
                result.waiting = (f'an exclusive {_kind(job)} job waits for a node able to run '
                                  'it to be free')
                break
            reserved.add(node)
            selector[NODE_ID_LABEL] = node
        elif reserved:
            # A task's selector is fixed when Ray gets it: one kept off the
            # reserved nodes must have another node that can run it, or it
            # would wait in Ray for good.  Otherwise it waits here.
            if not any(n.node_id not in reserved and can_run(n, options) for n in nodes):
                result.waiting = (f'a {_kind(job)} job waits: every node able to run it is '
                                  'reserved for an exclusive job')
                break
            selector[NODE_ID_LABEL] = f"!in({','.join(sorted(reserved))})"
        queue.pop()
        if selector:
            options = {**options, 'label_selector': selector}
        result.dispatch.append(Dispatch(job, options, node))
    return result


def _kind(job) -> str:
    job_type = getattr(job, 'job_type', None)
    return repr(job_type) if job_type else 'queued'
