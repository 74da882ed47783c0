"""The cluster as the planner sees it: each node (:class:`Node`, built from
``ray.nodes()`` or by hand in tests), the labels that say what it can do, and
whether it can run a task with given Ray options (:func:`can_run`) — or, when
none can, why (:func:`missing`), in words a cluster administrator can act on;
what a whole cluster lacks for judging (:func:`shortcomings`); and whether a
task already in Ray can still be placed (:func:`placeable`).  Pure: it calls
no Ray, so the rules are tested on fake nodes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

NODE_ID_LABEL = 'ray.io/node-id'
#: The label that says a node carries sio's tags (:mod:`sio_ray.tags`).
TAG_KEY = 'sio-sandbox'
#: Labels of a node's calibration (:mod:`sio.workers.calibration`): its speed
#: (1.0: the reference machine) and its noise (a coefficient of variation).
SPEED_LABEL = 'sio-speed'
NOISE_LABEL = 'sio-noise'
#: The label of a node that counts instructions (:mod:`sio_ray.tags`).
INSTRUCTIONS_LABEL = 'sio-instructions'
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
    #: The tags a probe found on a node that carries none as labels (None:
    #: not probed).
    probed: Mapping[str, str] | None = None
    #: A node the autoscaler can add (one of its node types), not a node of
    #: the cluster: it has the resources it declares (others, such as
    #: memory, are not known before it runs).
    virtual: bool = False
    #: The node's latest calibration recorded in the cluster's registry
    #: (``sio-ray calibrate``), as labels; it overrides the labels it started with.
    calibrated: Mapping[str, str] | None = None

    @classmethod
    def of_type(cls, name: str, spec: Mapping) -> 'Node':
        """The node an autoscaler's node type ``name`` would add."""
        return cls(node_id=f'node-type:{name}', labels=dict(spec.get('labels') or {}),
                   resources=dict(spec.get('resources') or {}), virtual=True)

    @classmethod
    def from_ray(cls, entry: dict, free: Mapping[str, float] | None = None,
                 probed: Mapping[str, str] | None = None,
                 calibrated: Mapping[str, str] | None = None) -> 'Node':
        """From one entry of ``ray.nodes()``."""
        return cls(node_id=entry['NodeID'], alive=bool(entry.get('Alive')),
                   labels=dict(entry.get('Labels') or {}),
                   resources=dict(entry.get('Resources') or {}), free=free, probed=probed,
                   calibrated=calibrated)

    @property
    def tagged(self) -> bool:
        """Whether the node carries sio's tags as Ray labels."""
        return TAG_KEY in self.labels

    @property
    def known(self) -> bool:
        """Whether what the node can do is known: from its labels or a probe."""
        return self.tagged or self.probed is not None

    @property
    def tags(self) -> Mapping[str, str]:
        """What the node can do: its labels, or what a probe found."""
        return self.labels if self.tagged or self.probed is None else {**self.probed,
                                                                          **self.labels}


def has_labels(node: Node, selector: Mapping[str, str], native: bool = False) -> bool:
    """Whether ``node`` can do what ``selector`` asks (``label: value``; the
    node-id label is placement, not capability, and is not looked at): by its
    tags (labels or probed), or only by its Ray labels (``native``)."""
    have = node.labels if native else node.tags
    return all(have.get(key) == value for key, value in selector.items()
               if key != NODE_ID_LABEL)


def needs(options: Mapping) -> dict[str, float]:
    """The resources a task with ``options`` asks for, by Ray's names."""
    return {'CPU': options.get('num_cpus', 1), 'memory': options.get('memory', 0),
            **(options.get('resources') or {})}


def has_room(node: Node, options: Mapping) -> bool:
    """Whether ``node`` (alive) has the resources a task with ``options`` asks for."""
    return node.alive and all(node.resources.get(name, 0) >= amount
                              for name, amount in needs(options).items()
                              if amount and not (node.virtual and name not in node.resources))


def can_run(node: Node, options: Mapping) -> bool:
    """Whether ``node`` (alive) is known to be able to run a task with ``options``."""
    return has_room(node, options) and has_labels(node, options.get('label_selector') or {})


def _asks_tags(options: Mapping) -> bool:
    return any(key != NODE_ID_LABEL for key in options.get('label_selector') or {})


def might_run(node: Node, options: Mapping) -> bool:
    """Whether ``node`` can, or may once probed, run a task with ``options``."""
    if not _asks_tags(options) or node.known:
        return can_run(node, options)
    return has_room(node, options)


def fitted(options: dict, nodes: Sequence[Node]) -> dict:
    """Ask for no more CPUs than the largest alive node has (an interactive job
    with many processes still runs, sharing the node's cores)."""
    largest = max((n.resources.get('CPU', 0) for n in nodes if n.alive), default=0)
    if largest and options.get('num_cpus', 1) > largest:
        return {**options, 'num_cpus': largest}
    return options


def _capability(label: str) -> str:
    if label == TAG_KEY:
        return f'a working isolated sandbox ({label})'
    if label.startswith('sio-') and label != 'sio-instructions':
        return f'the {label[4:]} runtime ({label})'
    return label


def _amount(name: str, amount: float) -> str:
    if name == 'memory':
        return f'{amount / _MIB:.0f} MiB of memory'
    if name == 'CPU':
        return f'{amount:g} CPU' + ('s' if amount != 1 else '')
    return f'{amount:g} {name}'


def missing(options: Mapping, nodes: Sequence[Node]) -> str | None:
    """Why no alive node can ever run a task with ``options`` (and what to do
    about it), or None if one can, or may once probed."""
    alive = [n for n in nodes if n.alive]
    if not alive:
        return 'no alive Ray node: start one (`ray start --address=...`)'
    if any(might_run(n, options) for n in alive):
        return None
    selector = {k: v for k, v in (options.get('label_selector') or {}).items()
                if k != NODE_ID_LABEL}
    roomy = [n for n in alive if has_room(n, options)]
    if roomy and selector:
        wanted = ', '.join(f'{k}={v}' for k, v in selector.items())
        lacking = [_capability(k) for k, v in selector.items()
                   if not any(n.tags.get(k) == v for n in roomy)]
        what = ' and '.join(lacking) if lacking else 'all of these at once'
        return (f'no node can do {wanted}: none with room for the job has {what}; add a '
                'node where it works: tagged by `ray start ... $(sio-ray node-args)`, or '
                'untagged (sio_ray probes it)')
    asked = {name: amount for name, amount in needs(options).items() if amount}
    wants = ', '.join(_amount(name, amount) for name, amount in asked.items())
    most = ', '.join(_amount(name, max(n.resources.get(name, 0) for n in alive))
                     for name in asked)
    return (f'no node has the resources this job needs ({wants}; the most any node has: '
            f"{most}): lower the job's limits (memory: its *_mem_limit keys, in KiB) or add "
            'a larger node')


def shortcomings(nodes: Sequence[Node], growable: Sequence[Node] = ()) -> list[str]:
    """What a cluster lacks for judging, in words (empty when nothing);
    ``growable``: the nodes its autoscaler can add."""
    alive = [n for n in nodes if n.alive]
    found = []
    if not any(n.resources.get('CPU', 0) > 0 for n in alive):
        found.append('no alive node has CPUs: jobs wait for the autoscaler to add one'
                     if growable else 'no alive node has CPUs: no job can run until one joins')
    untagged = [n for n in alive if not n.tagged and n.resources.get('CPU', 0) > 0]
    if untagged:
        found.append(f'{len(untagged)} of {len(alive)} nodes carry no sio tags (a plain `ray '
                     'start`, or ray.init()): sio_ray probes each once before it gets isolated '
                     'jobs; jobs without isolation run there anyway.  Tag nodes with '
                     '`ray start ... $(sio-ray node-args)`')
    if alive and all(n.known for n in alive) and \
            not any(n.tags.get(TAG_KEY) == 'true' for n in alive):
        found.append('no node can run isolated jobs (sio-sandbox=true): they will be refused')
    return found


def selects(node: Node, selector: Mapping[str, str]) -> bool:
    """Whether Ray would let a task with label ``selector`` run on ``node``
    (by its Ray labels and id: ``value``, ``!value``, ``in(a,b)``, ``!in(a,b)``)."""
    for key, wanted in selector.items():
        have = node.node_id if key == NODE_ID_LABEL else node.labels.get(key)
        negate = wanted.startswith('!')
        wanted = wanted[1:] if negate else wanted
        values = wanted[3:-1].split(',') if wanted.startswith('in(') else [wanted]
        if (have in values) == negate:
            return False
    return True


def placeable(placed: Mapping, nodes: Sequence[Node]) -> bool:
    """Whether some alive node can take a task already given to Ray with the
    options ``placed`` (its selector fixed when Ray got it, or a selector of
    its ``fallback_strategy``)."""
    selectors = [placed.get('label_selector') or {},
                 *((s.get('label_selector') or {}) for s in placed.get('fallback_strategy') or ())]
    return any(has_room(n, placed) and selects(n, selector)
               for n in nodes for selector in selectors)
