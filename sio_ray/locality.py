"""Jobs sent to the nodes whose caches hold their inputs (issue 11 §3).

:func:`sio_ray.scheduling.plan`, given a :class:`Locality`, asks
:func:`preferred_node` for each job it places: of the nodes the job may use,
the one whose caches hold most of its inputs and that has room.  The job
prefers it softly (:func:`with_preference`): Ray starts it elsewhere while
that node has no free CPU.  Pure: it calls no Ray."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sio_ray.nodes import NODE_ID_LABEL, Node

#: A node has room for jobs sent to it for their inputs up to this many times
#: its CPUs: one running on each CPU, one waiting in Ray to start the moment
#: it frees (the dispatcher's default window is twice the cluster's CPUs).
PREFERRED_DEPTH = 2


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
