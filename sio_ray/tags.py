"""Node tags: what a node can do for jobs, as Ray node labels and resources.

Tags are found by trying (:func:`sio.workers.isolation.probe.capabilities`)
when the node's Ray starts, not configured by hand:

* label ``sio-sandbox``: ``true`` where isolated boxes work;
* label ``sio-instructions``: ``true`` where instructions can be counted (PMU);
* resource ``node_slot: 1``: the slot an exclusive job (``cpu-exec``) takes whole
  and every other job takes a thousandth of.
"""

from __future__ import annotations

import json

from sio.workers.isolation.probe import capabilities

SANDBOX = 'sio-sandbox'
INSTRUCTIONS = 'sio-instructions'
NODE_SLOT = 'node_slot'
#: The share of the node slot an ordinary job takes (up to 1000 jobs per node).
ORDINARY_SLOT = 0.001


def node_labels() -> dict[str, str]:
    """Labels describing this node, from a real probe."""
    caps = capabilities()
    return {SANDBOX: str(caps.isolation).lower(), INSTRUCTIONS: str(caps.instructions).lower()}


def node_resources() -> dict[str, float]:
    return {NODE_SLOT: 1}


def ray_start_arguments() -> list[str]:
    """``ray start`` arguments that tag this node, for ``cluster.yaml``'s start
    commands: ``ray start ... $(sio-ray node-args)``.  Each is one word that
    needs no quoting (no spaces, quotes or glob characters): the shell splits
    a command substitution into words but removes no quotes from it."""
    labels = ','.join(f'{k}={v}' for k, v in node_labels().items())
    resources = json.dumps(node_resources(), separators=(',', ':'))
    return [f'--labels={labels}', f'--resources={resources}']
