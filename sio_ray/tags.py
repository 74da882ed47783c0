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
  its compiler's named toolchain sandbox can be fetched;
* labels ``sio-speed`` and ``sio-noise``: the node's calibration
  (:mod:`sio.workers.calibration`: a reference workload in a box; speed 1.0
  is the reference machine, noise the coefficient of variation of its runs),
  measured by ``sio-ray node-args`` (:func:`calibration_labels`) unless
  ``$SIO_CALIBRATION_RUNS`` is 0; ``sio-ray calibrate`` measures every node
  again and its results override these labels (:mod:`sio_ray.calibration`).

A node started without them (a plain ``ray start``, a driver's own
``ray.init()``) is probed by the first driver that needs to know
(:mod:`sio_ray.registry`).  Jobs ask Ray only for what Ray counts (CPUs,
memory), so every node with CPUs is capacity; an exclusive job
(``cpu-exec``) takes every CPU of the node it is pinned to.
"""

from __future__ import annotations

import json

from sio.workers.isolation.probe import capabilities
from sio_ray.nodes import NOISE_LABEL as NOISE
from sio_ray.nodes import SPEED_LABEL as SPEED

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


def calibration_labels(calibration=None) -> dict[str, str]:
    """The labels of ``calibration`` (a :class:`sio.workers.calibration.Calibration`;
    default: this node's, measured now — none where ``$SIO_CALIBRATION_RUNS``
    is 0 or boxes do not work, which is said on standard error)."""
    import sys

    from sio.workers import calibration as measuring
    from sio.workers import settings
    if calibration is None:
        if not settings.CALIBRATION_RUNS.get():
            return {}
        try:
            calibration = measuring.measure()
        except measuring.CalibrationError as exc:
            print(f'sio-ray: this node is not calibrated: {exc}', file=sys.stderr)
            return {}
    return {SPEED: f'{calibration.speed:g}', NOISE: f'{calibration.noise:g}'}


def node_resources() -> dict[str, float]:
    """Custom resources of a judging node: none (jobs ask only for CPUs and memory)."""
    return {}


def ray_start_arguments() -> list[str]:
    """``ray start`` arguments that tag this node, for ``cluster.yaml``'s start
    commands: ``ray start ... $(sio-ray node-args)``.  Each is one word that
    needs no quoting (no spaces, quotes or glob characters): the shell splits
    a command substitution into words but removes no quotes from it."""
    found = node_labels()
    if found.get(SANDBOX) == 'true':
        found.update(calibration_labels())
    labels = ','.join(f'{k}={v}' for k, v in found.items())
    arguments = [f'--labels={labels}']
    if node_resources():
        arguments.append(f"--resources={json.dumps(node_resources(), separators=(',', ':'))}")
    return arguments
