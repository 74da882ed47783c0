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
  (missing label, too little memory or CPUs); the reason names what is missing;
* a queued job whose capable nodes are all gone is set aside (*stalled*), so
  that it does not hold up the jobs behind it; the dispatcher warns about it
  and fails it after a bound (:mod:`sio_ray.dispatcher`).
* a timed job (``timing``: ``cpu-exec``, ``sio2jail-exec``) avoids nodes
  much slower or much noisier than the cluster's median, as calibrated
  (:func:`timed_nodes`), unless only such nodes can run it; instruction
  counting, where a node has counters, comes first.
* a job whose inputs a node's cache holds prefers, softly, that node
  (:func:`preferred_node`, given a :class:`Locality`): it is sent there while
  the node has room and starts elsewhere when the node is busy; the order of
  the queue and the nodes a job may use stay as they are.

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
#: A node has room for jobs sent to it for their inputs up to this many times
#: its CPUs: one running on each CPU, one waiting in Ray to start the moment
#: it frees (the dispatcher's default window is twice the cluster's CPUs).
PREFERRED_DEPTH = 2


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
    and the nodes its autoscaler can add (``growable``: :meth:`Node.of_type`);
    a job only such a node can run is set aside (stalled, ``growable``) to
    wait for one.

    A job is placed on the nodes known to be able to run it: by their labels
    where they carry sio's tags (a label selector, so Ray may use any such
    node), otherwise by the nodes' ids (``ray.io/node-id: in(...)``, nodes
    whose tags a probe found).  With ``locality``, a job whose inputs some
    node's cache holds prefers that node (:func:`preferred_node`).
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
    timed one, ``timing``, by :func:`timed_nodes`); None when no such node is
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


@dataclass(frozen=True)
class Locality:
    """What the planner knows of where jobs' inputs are cached (issue 11 §3)."""

    #: What each node's caches hold: node id -> central server URL -> a summary
    #: (anything with ``holds(name)``: :class:`sio.workers.filetracker.holdings.Holdings`).
    held: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: CPUs taken on each node by this driver's jobs sent there for their
    #: inputs (:func:`preference_of` their options), still in Ray.
    load: Mapping[str, float] = field(default_factory=dict)


def held_weight(inputs: Iterable[tuple[str, str, float]], held: Mapping[str, Any]) -> float:
    """How much of ``inputs`` (``(server URL, name, weight)``) a node whose
    caches are ``held`` (URL -> summary) holds: the sum of their weights."""
    total = 0.0
    for url, name, weight in inputs:
        summary = held.get(url)
        if summary is not None and summary.holds(name):
            total += weight
    return total


def _has_room(node: Node, options: Mapping, load: Mapping[str, float]) -> bool:
    cpus = node.resources.get('CPU', 0)
    return load.get(node.node_id, 0) + options.get('num_cpus', 1) <= PREFERRED_DEPTH * cpus


def preferred_node(inputs: Sequence[tuple[str, str, float]], options: Mapping,
                   eligible: Sequence[Node], held: Mapping[str, Mapping[str, Any]],
                   load: Mapping[str, float]) -> str | None:
    """The node of ``eligible`` (those the job may use) that a job reading
    ``inputs`` is sent to: of those whose caches hold some of its inputs and
    that have room for it — jobs sent to it for their inputs (``load``, in
    CPUs) take fewer than :data:`PREFERRED_DEPTH` times its CPUs — the one
    holding the most (by weight), then the least loaded, then the first.
    None when there is none: the job goes wherever Ray puts it.

    Softly: Ray starts the job on that node when it has a free CPU, else on
    the first other node it may use that has one (:func:`with_preference`),
    so no node idles while a preferred one is busy."""
    best, best_key = None, None
    for order, node in enumerate(eligible):
        weight = held_weight(inputs, held.get(node.node_id) or {})
        if weight <= 0 or not _has_room(node, options, load):
            continue
        cpus = node.resources.get('CPU', 0)
        key = (-weight, load.get(node.node_id, 0) / cpus if cpus else 0.0, order)
        if best_key is None or key < best_key:
            best, best_key = node.node_id, key
    return best


def with_preference(options: dict, node_id: str) -> dict:
    """``options`` asking Ray for node ``node_id`` first and, while it has no
    free CPU, for the first of the nodes the options allowed to have one
    (Ray's ``fallback_strategy``)."""
    selector = dict(options.get('label_selector') or {})
    preferred = {k: v for k, v in selector.items() if k != NODE_ID_LABEL}
    return {**options, 'label_selector': {**preferred, NODE_ID_LABEL: node_id},
            'fallback_strategy': [{'label_selector': selector}]}


def preference_of(placed: Mapping | None) -> str | None:
    """The node that a task's options (:func:`with_preference`) prefer, or None."""
    if not placed or not placed.get('fallback_strategy'):
        return None
    node = (placed.get('label_selector') or {}).get(NODE_ID_LABEL)
    return node if node and not node.startswith(('!', 'in(')) else None


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


# -- nodes calibrated and compared (issue 11 §2) --------------------------------


@dataclass(frozen=True)
class Steadiness:
    """How much slower or noisier than the cluster's median a node may be
    and still get timed jobs (:data:`sio.workers.settings.RAY_SLOW_NODE_RATIO`,
    :data:`~sio.workers.settings.RAY_NOISY_NODE_MARGIN`)."""

    #: A node slower than this fraction of the median speed is slow.
    slow_ratio: float = 0.8
    #: A node whose noise exceeds the median noise by more than this is noisy.
    noise_margin: float = 0.1

    @classmethod
    def from_settings(cls) -> 'Steadiness':
        from sio.workers import settings
        return cls(settings.RAY_SLOW_NODE_RATIO.get(), settings.RAY_NOISY_NODE_MARGIN.get())


def calibration_of(node: Node) -> tuple[float, float] | None:
    """The node's ``(speed, noise)``: its latest calibration in the registry,
    else its labels; None when it was never calibrated."""
    found = {**node.tags, **(node.calibrated or {})}
    try:
        return float(found[SPEED_LABEL]), float(found[NOISE_LABEL])
    except (KeyError, ValueError):
        return None


def unsteady(nodes: Sequence[Node], steadiness: Steadiness | None = None
             ) -> tuple[set[str], set[str]]:
    """The ``(slow, noisy)`` nodes among ``nodes``, compared with the median
    speed and noise of the alive, calibrated nodes with CPUs (of the whole
    cluster, not only those able to run some job)."""
    import statistics
    steadiness = steadiness or Steadiness.from_settings()
    measured = {n.node_id: calibration_of(n) for n in nodes
                if n.alive and not n.virtual and n.resources.get('CPU', 0) > 0}
    measured = {node: found for node, found in measured.items() if found is not None}
    if len(measured) < 2:
        return set(), set()
    speed = statistics.median(s for s, _ in measured.values())
    noise = statistics.median(c for _, c in measured.values())
    slow = {node for node, (s, _) in measured.items() if s < speed * steadiness.slow_ratio}
    noisy = {node for node, (_, c) in measured.items() if c > noise + steadiness.noise_margin}
    return slow, noisy


def timed_nodes(timing: str | None, options: Mapping, nodes: Sequence[Node],
                steadiness: Steadiness | None = None) -> Sequence[Node]:
    """The nodes a job whose verdict depends on its node's clock (``timing``:
    :attr:`sio.workers.requirements.Requirements.timing`) may be placed on:
    ``nodes`` itself when nothing is avoided, else those of them able to run
    it that are kept.

    ``'instructions'``: only nodes that count instructions, where one able
    to run the job does.  Otherwise (and ``'cpu'``) the slow nodes are left
    out, then the noisy ones (:func:`unsteady`), each only when some node
    able to run the job is left: a job is never held back because the only
    nodes that can run it are slow or noisy.
    """
    if timing not in ('cpu', 'instructions'):
        return nodes
    able = [n for n in nodes if can_run(n, options)]
    if timing == 'instructions':
        counting = [n for n in able if n.tags.get(INSTRUCTIONS_LABEL) == 'true']
        if counting:
            return nodes if len(counting) == len(able) else counting
    kept = able
    for avoided in unsteady(nodes, steadiness):
        rest = [n for n in kept if n.node_id not in avoided]
        if rest:
            kept = rest
    return nodes if len(kept) == len(able) else kept
