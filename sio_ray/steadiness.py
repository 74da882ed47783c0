"""Which nodes a timed job avoids: those much slower or noisier than the
cluster's median as calibrated (issue 11 §2; :mod:`sio_ray.calibration`
measures them), and, for instruction counting, those without counters.  Pure:
it calls no Ray."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sio_ray.nodes import INSTRUCTIONS_LABEL, NOISE_LABEL, SPEED_LABEL, Node, can_run


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
