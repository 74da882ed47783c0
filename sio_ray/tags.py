"""Node tags: what a node can do for jobs, as Ray node labels.

Tags are found by trying (:func:`sio.workers.isolation.probe.capabilities`)
when the node's Ray starts (``ray start ... $(sio-ray node-args)``), not
configured by hand:

* label ``sio-sandbox``: ``true`` where isolated boxes work;
* label ``sio-instructions``: ``true`` where instructions can be counted (PMU);
* labels ``sio-java``, ``sio-fpc``, ``sio-python``, ``sio-gcc``, ``sio-gxx``:
  ``true`` where that language's toolchain really works
  (:mod:`sio.workers.toolchains`, as DMOJ's judges self-test their runtimes):
  a job that needs one (a Java compile, a jar to run) goes only there, unless
  its compiler's named toolchain sandbox can be fetched.

A node started without them (a plain ``ray start``, a driver's own
``ray.init()``) is probed by the first driver that needs to know
(:mod:`sio_ray.registry`).  Jobs ask Ray only for what Ray counts (CPUs,
memory), so every node with CPUs is capacity; an exclusive job
(``cpu-exec``) takes every CPU of the node it is pinned to.
"""

from __future__ import annotations

import json

from sio.workers.isolation.probe import capabilities

SANDBOX = 'sio-sandbox'
INSTRUCTIONS = 'sio-instructions'
#: Older clusters gave every node this custom resource, which jobs no longer
#: ask for (a node without it was dead capacity); kept for their readers.
NODE_SLOT = 'node_slot'
ORDINARY_SLOT = 0.001


def runtime_label(runtime: str) -> str:
    """The label saying whether a node has ``runtime`` (:mod:`sio.workers.toolchains`)."""
    return f'sio-{runtime}'


def node_labels() -> dict[str, str]:
    """Labels describing this node, from a real probe: its boxes and each
    language toolchain it really has."""
    from sio.workers import toolchains
    caps = capabilities()
    labels = {SANDBOX: str(caps.isolation).lower(), INSTRUCTIONS: str(caps.instructions).lower()}
    for runtime, works in toolchains.available().items():
        labels[runtime_label(runtime)] = str(works).lower()
    return labels


def node_resources() -> dict[str, float]:
    """Custom resources of a judging node: none (jobs ask only for CPUs and memory)."""
    return {}


def ray_start_arguments() -> list[str]:
    """``ray start`` arguments that tag this node, for ``cluster.yaml``'s start
    commands: ``ray start ... $(sio-ray node-args)``.  Each is one word that
    needs no quoting (no spaces, quotes or glob characters): the shell splits
    a command substitution into words but removes no quotes from it."""
    labels = ','.join(f'{k}={v}' for k, v in node_labels().items())
    arguments = [f'--labels={labels}']
    if node_resources():
        arguments.append(f"--resources={json.dumps(node_resources(), separators=(',', ':'))}")
    return arguments
